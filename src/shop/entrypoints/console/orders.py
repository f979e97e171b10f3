"""Orders in the console: newest first, by status and customer; an order's lines, totals and
timeline; cancel and fulfil, refused in the API's words when the order's status forbids it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from dependency_injector.wiring import Provide, inject
from flask import flash, redirect, request, url_for

from shop.application.errors import Forbidden, NotFound
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing
from shop.container import Container
from shop.domain.errors import InvalidTransition
from shop.domain.orders import Order, OrderStatus
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
    list_orders: Callable[..., Listing[Order]] = Provide[Container.list_orders.provider],
    usernames: Callable[..., dict[int, str]] = Provide[Container.usernames.provider],
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
    found = list_orders(actor=current_manager(), query=query, customer=customer or None)
    names = usernames(actor=current_manager(), user_ids=[order.user_id for order in found.items])
    shown = Shown.of(found, query.page)
    return page(
        "orders.html", shown=shown, usernames=names, status=status, customer=customer, statuses=STATUSES, errors={}
    )


@blp.get("/orders/<id:order_id>/")
@manager_required
@inject
def order(
    order_id: int,
    get_order: Callable[..., Order] = Provide[Container.get_order.provider],
    get_user: Callable[..., User] = Provide[Container.get_user.provider],
) -> Any:
    found = get_order(actor=current_manager(), order_id=order_id)
    try:
        customer: User | None = get_user(actor=current_manager(), user_id=found.user_id)
    except (NotFound, Forbidden):
        customer = None  # the account was deleted; its orders stay
    return page("order.html", order=found, customer=customer)


def _change_status(order_id: int, change: Callable[..., Order], done: str) -> Any:
    try:
        changed = change(actor=current_manager(), order_id=order_id)
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
    cancel: Callable[..., Order] = Provide[Container.cancel_order.provider],
    get_order: Callable[..., Order] = Provide[Container.get_order.provider],
    usernames: Callable[..., dict[int, str]] = Provide[Container.usernames.provider],
) -> Any:
    """A confirmation first, as for deleting a product: cancelling can't be undone."""
    if request.method == "GET":
        found = get_order(actor=current_manager(), order_id=order_id)
        names = usernames(actor=current_manager(), user_ids=[found.user_id])
        return page("order_cancel.html", order=found, customer=names.get(found.user_id))
    return _change_status(order_id, cancel, "cancelled: its stock is back")


@blp.post("/orders/<id:order_id>/fulfil")
@manager_required
@inject
def fulfil_order(order_id: int, fulfil: Callable[..., Order] = Provide[Container.fulfil_order.provider]) -> Any:
    return _change_status(order_id, fulfil, "fulfilled")
