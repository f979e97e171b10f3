from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Response, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.adapters.encoding import encoded
from shop.application.orders import Idempotency, Placement
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing, Page
from shop.container import Container
from shop.domain.orders import Order, OrderItem, OrderStatus
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.http import LOCATION_HEADER
from shop.entrypoints.api.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    REPLAYED_HEADER,
    fingerprint,
    idempotency_key,
)
from shop.entrypoints.api.schemas.orders import OrderCreateSchema, OrderFilterSchema, OrderSchema
from shop.entrypoints.api.security import current_actor

blp = Blueprint("orders", __name__, url_prefix="/orders", description="Place and follow orders.")


@blp.route("/")
class Orders(MethodView):
    @blp.authenticated
    @blp.arguments(OrderFilterSchema, location="query")
    @blp.response(200, OrderSchema(many=True))
    @blp.paginate()
    @blp.errors(403)
    @inject
    def get(
        self,
        filters: dict[str, Any],
        pagination_parameters: PaginationParameters,
        list_orders: Callable[..., Listing[Order]] = Provide[Container.list_orders.provider],
    ) -> list[Order]:
        """Managers see every order (or one customer's), customers their own; newest first by default.

        `sort` orders them otherwise; `customer` (managers only) names a customer by username.
        """
        status = filters.get("status")
        query = OrderQuery(
            page=Page(pagination_parameters.page, pagination_parameters.page_size),
            status=OrderStatus(status) if status else None,
            sort=tuple(filters["sort"].split(",")),
        )
        listing = list_orders(actor=current_actor(), query=query, customer=filters.get("customer"))
        found, pagination_parameters.item_count = listing
        return found

    @blp.authenticated
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema, headers={"Location": LOCATION_HEADER, "Idempotent-Replayed": REPLAYED_HEADER})
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.errors(403, 409, 422)
    @inject
    def post(
        self, body: dict[str, Any], place_order: Callable[..., Placement] = Provide[Container.place_order.provider]
    ) -> Response:
        """Place an order (customers only): stock is taken in the same transaction, all or nothing.

        With an `Idempotency-Key`, a retry of the same request replays the first response instead of
        ordering again; the same key with another body is refused (422).
        """
        key = idempotency_key()
        placement = place_order(
            actor=current_actor(),
            items=[OrderItem(item["product"], item["quantity"]) for item in body["items"]],
            idempotency=Idempotency(key, fingerprint(body)) if key is not None else None,
        )
        response = Response(encoded(placement.order), status=201, mimetype="application/json")
        response.headers["Location"] = url_for(".OrderDetail", order_id=placement.order["id"])
        if placement.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


@blp.route("/<id:order_id>/")
class OrderDetail(MethodView):
    @blp.authenticated
    @blp.response(200, OrderSchema)
    @blp.errors(404)
    @inject
    def get(self, order_id: int, get_order: Callable[..., Order] = Provide[Container.get_order.provider]) -> Order:
        """One order: its owner or a manager; anyone else gets 404."""
        return get_order(actor=current_actor(), order_id=order_id)


@blp.route("/<id:order_id>/cancel/")
class CancelOrder(MethodView):
    @blp.authenticated
    @blp.response(200, OrderSchema)
    @blp.errors(404, 409)
    @inject
    def post(
        self, order_id: int, cancel_order: Callable[..., Order] = Provide[Container.cancel_order.provider]
    ) -> Order:
        """Cancel a placed order (its owner or a manager); every line's stock comes back."""
        return cancel_order(actor=current_actor(), order_id=order_id)


@blp.route("/<id:order_id>/fulfil/")
class FulfilOrder(MethodView):
    @blp.authenticated
    @blp.response(200, OrderSchema)
    @blp.errors(403, 404, 409)
    @inject
    def post(
        self, order_id: int, fulfil_order: Callable[..., Order] = Provide[Container.fulfil_order.provider]
    ) -> Order:
        """Mark a placed order fulfilled (managers only)."""
        return fulfil_order(actor=current_actor(), order_id=order_id)
