from __future__ import annotations

from datetime import timedelta
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Response, json
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.application import orders
from shop.application.ports import CatalogCache, Clock, Metrics, OrderQuery, Page, UnitOfWork
from shop.container import Container
from shop.domain.orders import Order, OrderItem, OrderStatus
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    REPLAYED_HEADER,
    fingerprint,
    idempotency_key,
)
from shop.entrypoints.api.schemas import OrderCreateSchema, OrderFilterSchema, OrderSchema
from shop.entrypoints.api.security import current_actor

blp = Blueprint("orders", __name__, url_prefix="/orders", description="Place and follow orders.")


@blp.route("/")
class Orders(MethodView):
    @blp.authenticated
    @blp.arguments(OrderFilterSchema, location="query")
    @blp.response(200, OrderSchema(many=True))
    @blp.paginate()
    @inject
    def get(
        self,
        filters: dict[str, Any],
        pagination_parameters: PaginationParameters,
        uow: UnitOfWork = Provide[Container.reader],
        cache: CatalogCache = Provide[Container.catalog_cache],
    ) -> list[Order]:
        """Managers see every order, customers their own; oldest first."""
        status = filters.get("status")
        query = OrderQuery(
            page=Page(pagination_parameters.page, pagination_parameters.page_size),
            status=OrderStatus(status) if status else None,
        )
        found, pagination_parameters.item_count = orders.list_orders(
            uow=uow, actor=current_actor(), query=query, cache=cache
        )
        return found

    @blp.authenticated
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema, headers={"Idempotent-Replayed": REPLAYED_HEADER})
    @blp.doc(parameters=[IDEMPOTENCY_KEY_PARAMETER])
    @blp.errors(403, 409, 422)
    @inject
    def post(
        self,
        body: dict[str, Any],
        uow: UnitOfWork = Provide[Container.uow],
        clock: Clock = Provide[Container.clock],
        key_ttl: timedelta = Provide[Container.config.idempotency_key_ttl],
        cache: CatalogCache = Provide[Container.catalog_cache],
        metrics: Metrics = Provide[Container.metrics],
    ) -> Order | Response:
        """Place an order (customers only): stock is taken in the same transaction, all or nothing.

        With an `Idempotency-Key`, a retry of the same request replays the first response instead of
        ordering again; the same key with another body is refused (422).
        """
        items = [OrderItem(item["product"], item["quantity"]) for item in body["items"]]
        key = idempotency_key()
        if key is None:
            return orders.place_order(
                uow=uow, clock=clock, actor=current_actor(), items=items, cache=cache, metrics=metrics
            )
        result = orders.place_order_once(
            uow=uow,
            clock=clock,
            actor=current_actor(),
            items=items,
            key=key,
            fingerprint=fingerprint(body),
            key_ttl=key_ttl,
            render=lambda order: (201, json.dumps(OrderSchema().dump(order))),
            cache=cache,
            metrics=metrics,
        )
        response = Response(result.body, status=result.status, mimetype="application/json")
        if result.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


@blp.route("/<id:order_id>/")
class OrderDetail(MethodView):
    @blp.authenticated
    @blp.response(200, OrderSchema)
    @blp.errors(404)
    @inject
    def get(self, order_id: int, uow: UnitOfWork = Provide[Container.reader]) -> Order:
        """One order: its owner or a manager; anyone else gets 404."""
        return orders.get_order(uow=uow, actor=current_actor(), order_id=order_id)


@blp.route("/<id:order_id>/cancel/")
class CancelOrder(MethodView):
    @blp.authenticated
    @blp.response(200, OrderSchema)
    @blp.errors(404, 409)
    @inject
    def post(
        self,
        order_id: int,
        uow: UnitOfWork = Provide[Container.uow],
        clock: Clock = Provide[Container.clock],
        cache: CatalogCache = Provide[Container.catalog_cache],
        metrics: Metrics = Provide[Container.metrics],
    ) -> Order:
        """Cancel a placed order (its owner or a manager); every line's stock comes back."""
        return orders.cancel_order(
            uow=uow,
            clock=clock,
            actor=current_actor(),
            order_id=order_id,
            cache=cache,
            metrics=metrics,
        )


@blp.route("/<id:order_id>/fulfil/")
class FulfilOrder(MethodView):
    @blp.authenticated
    @blp.response(200, OrderSchema)
    @blp.errors(403, 404, 409)
    @inject
    def post(
        self,
        order_id: int,
        uow: UnitOfWork = Provide[Container.uow],
        clock: Clock = Provide[Container.clock],
        cache: CatalogCache = Provide[Container.catalog_cache],
        metrics: Metrics = Provide[Container.metrics],
    ) -> Order:
        """Mark a placed order fulfilled (managers only)."""
        return orders.fulfil_order(
            uow=uow, clock=clock, actor=current_actor(), order_id=order_id, cache=cache, metrics=metrics
        )
