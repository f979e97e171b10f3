"""Customers in the console: a search by username (customers only: managers are not customers), and a
customer's page with their orders."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from dependency_injector.wiring import Provide, inject
from flask import request

from shop.application import commands
from shop.application.messagebus import MessageBus
from shop.application.ports.orders import OrderQuery
from shop.application.ports.users import UserQuery
from shop.container import Container
from shop.domain.users import Role
from shop.entrypoints.api.schemas.users import UserFilterSchema
from shop.entrypoints.console.blueprint import blp, page
from shop.entrypoints.console.paging import Shown, requested_page
from shop.entrypoints.console.signin import current_manager, manager_required


@blp.get("/customers/")
@manager_required
@inject
def customers(bus: MessageBus = Provide[Container.bus]) -> Any:
    q = request.args.get("q", "").strip()
    try:
        filters = UserFilterSchema().load({"q": q} if q else {})  # the API's own reading of ?q=
    except ma.ValidationError as error:
        return page("customers.html", 400, shown=None, q=q, errors=error.messages_dict)
    query = UserQuery(page=requested_page(), q=filters.get("q"), role=Role.CUSTOMER)
    found = bus.handle(commands.ListUsers(actor=current_manager(), query=query))
    return page("customers.html", shown=Shown.of(found, query.page), q=q, errors={})


@blp.get("/customers/<id:user_id>/")
@manager_required
@inject
def customer(
    user_id: int,
    bus: MessageBus = Provide[Container.bus],
) -> Any:
    found = bus.handle(commands.GetUser(actor=current_manager(), user_id=user_id))
    query = OrderQuery(page=requested_page(), user_id=user_id)
    orders = bus.handle(commands.ListOrders(actor=current_manager(), query=query))
    shown = Shown.of(orders, query.page)
    return page("customer.html", customer=found, shown=shown, usernames={found.id: found.username})
