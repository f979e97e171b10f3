from __future__ import annotations

from collections.abc import Sequence

from shop.application.actors import Actor
from shop.application.errors import Forbidden, NotFound
from shop.application.ports import Clock, OrderQuery, UnitOfWork
from shop.domain.orders import Order, OrderItem, check_items


def place_order(*, uow: UnitOfWork, clock: Clock, actor: Actor, items: Sequence[OrderItem]) -> Order:
    """Take the stock of every item and record the order, in one transaction."""
    if actor.is_manager:
        raise Forbidden("Managers cannot place orders; use a customer account.")
    if not items:
        check_items(items, {})
    with uow:
        products = uow.products.get_for_update(sorted({item.product_id for item in items}))
        order = Order.place(user_id=actor.user_id, items=items, products=products, now=clock.now())
        for product in products.values():
            uow.products.save(product)
        uow.orders.add(order)
        uow.commit()
    return order


def list_orders(*, uow: UnitOfWork, actor: Actor, query: OrderQuery) -> tuple[list[Order], int]:
    """Managers see every order; customers only their own."""
    if not actor.is_manager:
        query = OrderQuery(page=query.page, user_id=actor.user_id, status=query.status)
    with uow:
        return uow.orders.list(query)


def get_order(*, uow: UnitOfWork, actor: Actor, order_id: int) -> Order:
    with uow:
        order = uow.orders.get(order_id)
    return _visible(order, actor, order_id)


def cancel_order(*, uow: UnitOfWork, clock: Clock, actor: Actor, order_id: int) -> Order:
    """The owner or a manager cancels a placed order; its stock goes back in the same transaction."""
    with uow:
        order = _visible(uow.orders.get_for_update(order_id), actor, order_id)
        products = uow.products.get_for_update(sorted({line.product_id for line in order.lines}), include_deleted=True)
        order.cancel(products, clock.now())
        for product in products.values():
            uow.products.save(product)
        uow.orders.save(order)
        uow.commit()
    return order


def fulfil_order(*, uow: UnitOfWork, clock: Clock, actor: Actor, order_id: int) -> Order:
    if not actor.is_manager:
        raise Forbidden("Only managers can fulfil orders.")
    with uow:
        order = _visible(uow.orders.get_for_update(order_id), actor, order_id)
        order.fulfil(clock.now())
        uow.orders.save(order)
        uow.commit()
    return order


def _visible(order: Order | None, actor: Actor, order_id: int) -> Order:
    """Someone else's order is reported as missing, so ids of other customers' orders leak nothing."""
    if order is None or not (actor.is_manager or order.user_id == actor.user_id):
        raise NotFound("Order", order_id)
    return order
