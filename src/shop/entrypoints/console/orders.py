"""Orders in the console: newest first, by status and customer; an order's lines, totals and
timeline; cancel and fulfil, refused in the API's words when the order's status forbids it."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from dependency_injector.wiring import Provide, inject
from flask import flash, redirect, request, url_for

from shop.application import commands
from shop.application.errors import Forbidden, NotFound
from shop.application.messagebus import MessageBus
from shop.application.ports.orders import OrderQuery
from shop.container import Container
from shop.domain.errors import InvalidTransition
from shop.domain.orders import OrderStatus
from shop.domain.users import User
from shop.entrypoints.api.schemas.orders import OrderFilterSchema
from shop.entrypoints.console.blueprint import blp, page
from shop.entrypoints.console.paging import Shown, requested_page
from shop.entrypoints.console.signin import current_manager, manager_required

STATUSES = [status.value for status in OrderStatus]


@blp.get("/orders/")
@manager_required
@inject
def orders(
    bus: MessageBus = Provide[Container.bus],
) -> Any:
    status, customer = request.args.get("status", ""), request.args.get("customer", "").strip()
    try:
        sent = {name: value for name, value in (("status", status), ("customer", customer)) if value}
        OrderFilterSchema().load(sent)  # the API's own reading of ?status= and ?customer=
    except ma.ValidationError as error:
        errors = error.messages_dict
        return page("orders.html", 400, shown=None, status=status, customer=customer, statuses=STATUSES, errors=errors)
    query = OrderQuery(
        page=requested_page(),
        status=OrderStatus(status) if status else None,
    )
    found = bus.handle(commands.ListOrders(actor=current_manager(), query=query, customer=customer or None))
    names = bus.handle(commands.Usernames(actor=current_manager(), user_ids=[order.user_id for order in found.items]))
    shown = Shown.of(found, query.page)
    return page(
        "orders.html", shown=shown, usernames=names, status=status, customer=customer, statuses=STATUSES, errors={}
    )


@blp.get("/orders/<id:order_id>/")
@manager_required
@inject
def order(
    order_id: int,
    bus: MessageBus = Provide[Container.bus],
) -> Any:
    found = bus.handle(commands.GetOrder(actor=current_manager(), order_id=order_id))
    try:
        customer: User | None = bus.handle(commands.GetUser(actor=current_manager(), user_id=found.user_id))
    except (NotFound, Forbidden):
        customer = None  # the account was deleted; its orders stay
    return page("order.html", order=found, customer=customer)


def _change_status(
    bus: MessageBus, order_id: int, change: type[commands.CancelOrder | commands.FulfilOrder], done: str
) -> Any:
    try:
        changed = bus.handle(change(actor=current_manager(), order_id=order_id))
    except InvalidTransition as error:
        flash(str(error), "error")
    else:
        flash(f"Order {changed.id} is {done}.")
    return redirect(url_for("console.order", order_id=order_id))


@blp.route("/orders/<id:order_id>/cancel", methods=["GET", "POST"])
@manager_required
@inject
def cancel_order(
    order_id: int,
    bus: MessageBus = Provide[Container.bus],
) -> Any:
    """A confirmation first, as for deleting a product: cancelling can't be undone."""
    if request.method == "GET":
        found = bus.handle(commands.GetOrder(actor=current_manager(), order_id=order_id))
        names = bus.handle(commands.Usernames(actor=current_manager(), user_ids=[found.user_id]))
        return page("order_cancel.html", order=found, customer=names.get(found.user_id))
    return _change_status(bus, order_id, commands.CancelOrder, "cancelled: its stock is back")


@blp.post("/orders/<id:order_id>/fulfil")
@manager_required
@inject
def fulfil_order(order_id: int, bus: MessageBus = Provide[Container.bus]) -> Any:
    return _change_status(bus, order_id, commands.FulfilOrder, "fulfilled")
