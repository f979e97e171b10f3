from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Response, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.adapters.encoding import encoded
from shop.application import commands
from shop.application.messagebus import MessageBus
from shop.application.orders import Idempotency
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Page
from shop.container import Container
from shop.domain.orders import Order, OrderItem, OrderStatus
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.http import LOCATION_HEADER, viewed
from shop.entrypoints.api.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    REPLAYED_HEADER,
    fingerprint,
    idempotency_key,
)
from shop.entrypoints.api.schemas.orders import OrderCreateSchema, OrderFilterSchema, OrderSchema
from shop.entrypoints.api.security import current_actor, current_token

blp = Blueprint("orders", __name__, url_prefix="/orders", description="Place and follow orders.")


@blp.route("/")
class Orders(MethodView):
    @blp.authenticated_read
    @blp.arguments(OrderFilterSchema, location="query")
    @blp.response(200, OrderSchema(many=True))
    @blp.paginate()
    @blp.errors(403)
    @inject
    def get(
        self,
        filters: dict[str, Any],
        pagination_parameters: PaginationParameters,
        bus: MessageBus = Provide[Container.bus],
    ) -> Response:
        """Managers see every order (or one customer's), customers their own; newest first by default.

        `sort` orders them otherwise; `customer` (managers only) names a customer by username.
        """
        status = filters.get("status")
        query = OrderQuery(
            page=Page(pagination_parameters.page, pagination_parameters.page_size),
            status=OrderStatus(status) if status else None,
            sort=tuple(filters["sort"].split(",")),
        )
        page = bus.handle(commands.ViewOrders(current_token(), query, filters.get("customer")))
        pagination_parameters.item_count = page.total
        return viewed(page)

    @blp.authenticated
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema, headers={"Location": LOCATION_HEADER, "Idempotent-Replayed": REPLAYED_HEADER})
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.errors(403, 409, 422)
    @inject
    def post(self, body: dict[str, Any], bus: MessageBus = Provide[Container.bus]) -> Response:
        """Place an order (customers only): stock is taken in the same transaction, all or nothing.

        With an `Idempotency-Key`, a retry of the same request replays the first response instead of
        ordering again; the same key with another body is refused (422).
        """
        key = idempotency_key()
        placement = bus.handle(
            commands.PlaceOrder(
                actor=current_actor(),
                items=[OrderItem(item["product"], item["quantity"]) for item in body["items"]],
                idempotency=Idempotency(key, fingerprint(body)) if key is not None else None,
            )
        )
        response = Response(encoded(placement.order), status=201, mimetype="application/json")
        response.headers["Location"] = url_for(".OrderDetail", order_id=placement.order["id"])
        if placement.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


@blp.route("/<id:order_id>/")
class OrderDetail(MethodView):
    @blp.authenticated_read
    @blp.response(200, OrderSchema)
    @blp.errors(404)
    @inject
    def get(self, order_id: int, bus: MessageBus = Provide[Container.bus]) -> Response:
        """One order: its owner or a manager; anyone else gets 404."""
        return viewed(bus.handle(commands.ViewOrder(current_token(), order_id)))


@blp.route("/<id:order_id>/cancel/")
class CancelOrder(MethodView):
    @blp.authenticated
    @blp.response(200, OrderSchema)
    @blp.errors(404, 409)
    @inject
    def post(self, order_id: int, bus: MessageBus = Provide[Container.bus]) -> Order:
        """Cancel a placed order (its owner or a manager); every line's stock comes back."""
        return bus.handle(commands.CancelOrder(actor=current_actor(), order_id=order_id))


@blp.route("/<id:order_id>/fulfil/")
class FulfilOrder(MethodView):
    @blp.authenticated
    @blp.response(200, OrderSchema)
    @blp.errors(403, 404, 409)
    @inject
    def post(self, order_id: int, bus: MessageBus = Provide[Container.bus]) -> Order:
        """Mark a placed order fulfilled (managers only)."""
        return bus.handle(commands.FulfilOrder(actor=current_actor(), order_id=order_id))
