from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shop.application import representations
from shop.application.actors import Actor
from shop.application.errors import Conflict, Forbidden, IdempotencyMismatch, NotFound
from shop.application.messagebus import MessageBus
from shop.application.ports.idempotency import StoredPlacement
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing
from shop.application.ports.services import Clock
from shop.application.ports.unit_of_work import UnitOfWork
from shop.domain.errors import InsufficientStock
from shop.domain.events import OrderRefused
from shop.domain.orders import Order, OrderItem, check_items
from shop.domain.products import Product


@dataclass(frozen=True, slots=True)
class Idempotency:
    """An Idempotency-Key, and what makes two requests made with it the same request."""

    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Placement:
    """What placing an order answers: the order as the service shows it, and whether this answer is
    the replay of an earlier request with the same Idempotency-Key (then nothing was ordered)."""

    order: Mapping[str, Any]
    replayed: bool = False


def place_order(
    *,
    uow: UnitOfWork,
    clock: Clock,
    bus: MessageBus,
    key_ttl: timedelta,
    actor: Actor,
    items: Sequence[OrderItem],
    idempotency: Idempotency | None = None,
) -> Placement:
    """Take the stock of every item and record the order, all or nothing, in one transaction.

    With an Idempotency-Key, the key is claimed first: a concurrent request with the same key waits
    for this transaction (PostgreSQL's unique index, SQLite's write lock), then replays its answer, or
    places the order itself if this one failed (a failure keeps nothing, the claim included). Then the
    products are read under their lock, in id order (SQLite: the write lock of BEGIN IMMEDIATE), and
    the domain decides on them: the shortages, or the order and the stock it takes, which the
    repository writes (adapters/sql/orders.py TAKE_STOCK). The order is rendered once; its
    idempotency record, its event and the response are that rendering.
    """
    _check_can_order(actor, items)
    product_ids = sorted({item.product_id for item in items})
    with uow:
        now = clock.now()
        claim = None
        if idempotency is not None:
            claim = StoredPlacement(actor.user_id, idempotency.key, idempotency.fingerprint, now, None)
            if (earlier := uow.idempotency.claim(claim, now - key_ttl)) is not None:
                return _replay(earlier, idempotency)
        uow.orders.reserve_id()
        order = _decide(uow.products.get_for_update(product_ids), bus, actor, items, now)
        uow.orders.add(order)
        shown = representations.order_once(order)
        if claim is not None:
            uow.idempotency.keep(replace(claim, order=shown))
        uow.commit()
    return Placement(shown)


def _decide(
    products: Mapping[int, Product], bus: MessageBus, actor: Actor, items: Sequence[OrderItem], now: datetime
) -> Order:
    try:
        return Order.place(user_id=actor.user_id, items=items, products=products, now=now)
    except InsufficientStock as refused:
        bus.publish([OrderRefused(user_id=actor.user_id, shortages=refused.shortages, occurred_at=now)])
        raise


def purge_idempotency_keys(*, uow: UnitOfWork, clock: Clock, key_ttl: timedelta) -> int:
    with uow:
        count = uow.idempotency.purge_older_than(clock.now() - key_ttl)
        uow.commit()
    return count


def _check_can_order(actor: Actor, items: Sequence[OrderItem]) -> None:
    if actor.is_manager:
        raise Forbidden("Managers cannot place orders; use a customer account.")
    if not items:
        check_items(items, {})


def _replay(stored: StoredPlacement, idempotency: Idempotency) -> Placement:
    if stored.fingerprint != idempotency.fingerprint:
        raise IdempotencyMismatch("This Idempotency-Key was already used with a different request.")
    if stored.order is None:
        raise Conflict("A request with this Idempotency-Key is in progress; retry shortly.")
    return Placement(stored.order, replayed=True)


def list_orders(*, uow: UnitOfWork, actor: Actor, query: OrderQuery, customer: str | None = None) -> Listing[Order]:
    """Managers see every order, or one customer's (a username, whatever its case, closed account or
    not: none when no such account); customers only their own, and may not name a customer."""
    if not actor.is_manager:
        if customer is not None:
            raise Forbidden("Only managers can list the orders of a customer.")
        query = replace(query, user_id=actor.user_id)
    with uow:
        if actor.is_manager and customer is not None:
            user = uow.users.get_by_username(customer)
            if user is None:
                return Listing([], 0)
            query = replace(query, user_id=user.id)
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
