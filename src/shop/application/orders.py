from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from shop.application.actors import Actor
from shop.application.errors import Conflict, Forbidden, IdempotencyMismatch, KeyInUse, NotFound
from shop.application.ports import (
    NO_CACHE,
    NO_METRICS,
    CatalogCache,
    Clock,
    Metrics,
    OrderQuery,
    StoredResponse,
    UnitOfWork,
)
from shop.domain.errors import InsufficientStock
from shop.domain.orders import Order, OrderItem, check_items


@dataclass(frozen=True, slots=True)
class Response:
    """A rendered response (status and body) that a retry with the same Idempotency-Key gets again."""

    status: int
    body: str
    replayed: bool = False


def place_order(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    items: Sequence[OrderItem],
    cache: CatalogCache = NO_CACHE,
    metrics: Metrics = NO_METRICS,
) -> Order:
    """Take the stock of every item and record the order, in one transaction."""
    _check_can_order(actor, items)
    with uow:
        order = _place(uow, clock, actor, items, metrics)
        uow.commit()
    metrics.order_placed()
    _changed(order, cache)
    return order


def place_order_once(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    items: Sequence[OrderItem],
    key: str,
    fingerprint: str,
    key_ttl: timedelta,
    render: Callable[[Order], tuple[int, str]],
    cache: CatalogCache = NO_CACHE,
    metrics: Metrics = NO_METRICS,
) -> Response:
    """Place an order at most once per Idempotency-Key and user; a retry gets the first response again.

    The key is claimed in the order's own transaction: a concurrent request with the same key waits
    for it (PostgreSQL's unique index, SQLite's write lock) and then replays. Failed attempts store
    nothing, so they can be retried with the same key.
    """
    _check_can_order(actor, items)
    try:
        with uow:
            stored = uow.idempotency.get(actor.user_id, key)
            if stored is not None and stored.created_at > clock.now() - key_ttl:
                return _replay(stored, fingerprint)
            if stored is not None:
                uow.idempotency.delete(actor.user_id, key)
            uow.idempotency.reserve(actor.user_id, key, fingerprint, clock.now())
            order = _place(uow, clock, actor, items, metrics)
            status, body = render(order)
            uow.idempotency.complete(actor.user_id, key, status, body)
            uow.commit()
        metrics.order_placed()
        _changed(order, cache)
        return Response(status, body)
    except KeyInUse:
        with uow:
            stored = uow.idempotency.get(actor.user_id, key)
        if stored is None:
            raise Conflict("A request with this Idempotency-Key is in progress; retry shortly.") from None
        return _replay(stored, fingerprint)


def purge_idempotency_keys(*, uow: UnitOfWork, clock: Clock, key_ttl: timedelta) -> int:
    with uow:
        count = uow.idempotency.purge_older_than(clock.now() - key_ttl)
        uow.commit()
    return count


def _changed(order: Order, cache: CatalogCache) -> None:
    """After the commit: stock moved, and the owner's order listings changed."""
    cache.invalidate([line.product_id for line in order.lines], orders_of=order.user_id)


def _check_can_order(actor: Actor, items: Sequence[OrderItem]) -> None:
    if actor.is_manager:
        raise Forbidden("Managers cannot place orders; use a customer account.")
    if not items:
        check_items(items, {})


def _place(uow: UnitOfWork, clock: Clock, actor: Actor, items: Sequence[OrderItem], metrics: Metrics) -> Order:
    products = uow.products.get_for_update(sorted({item.product_id for item in items}))
    try:
        order = Order.place(user_id=actor.user_id, items=items, products=products, now=clock.now())
    except InsufficientStock:
        metrics.stock_rejected()
        raise
    for product in products.values():
        uow.products.save(product)
    uow.orders.add(order)
    return order


def _replay(stored: StoredResponse, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise IdempotencyMismatch("This Idempotency-Key was already used with a different request.")
    if not stored.status:
        raise Conflict("A request with this Idempotency-Key is in progress; retry shortly.")
    return Response(stored.status, stored.body, replayed=True)


def list_orders(
    *, uow: UnitOfWork, actor: Actor, query: OrderQuery, cache: CatalogCache = NO_CACHE
) -> tuple[list[Order], int]:
    """Managers see every order; customers only their own. Returns (the page, the total)."""
    if not actor.is_manager:
        query = OrderQuery(page=query.page, user_id=actor.user_id, status=query.status)
    with uow:
        total = cache.order_total(query, lambda: uow.orders.count(query))
        found = uow.orders.page(query) if query.page.offset < total else []
    return found, total


def get_order(*, uow: UnitOfWork, actor: Actor, order_id: int) -> Order:
    with uow:
        order = uow.orders.get(order_id)
    return _visible(order, actor, order_id)


def cancel_order(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    order_id: int,
    cache: CatalogCache = NO_CACHE,
    metrics: Metrics = NO_METRICS,
) -> Order:
    """The owner or a manager cancels a placed order; its stock goes back in the same transaction."""
    with uow:
        order = _visible(uow.orders.get_for_update(order_id), actor, order_id)
        products = uow.products.get_for_update(sorted({line.product_id for line in order.lines}), include_deleted=True)
        order.cancel(products, clock.now())
        for product in products.values():
            uow.products.save(product)
        uow.orders.save(order)
        uow.commit()
    metrics.order_cancelled()
    _changed(order, cache)
    return order


def fulfil_order(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    order_id: int,
    cache: CatalogCache = NO_CACHE,
    metrics: Metrics = NO_METRICS,
) -> Order:
    if not actor.is_manager:
        raise Forbidden("Only managers can fulfil orders.")
    with uow:
        order = _visible(uow.orders.get_for_update(order_id), actor, order_id)
        order.fulfil(clock.now())
        uow.orders.save(order)
        uow.commit()
    metrics.order_fulfilled()
    cache.invalidate([], orders_of=order.user_id)  # its status changed: the status-filtered totals did
    return order


def _visible(order: Order | None, actor: Actor, order_id: int) -> Order:
    """Someone else's order is reported as missing, so ids of other customers' orders leak nothing."""
    if order is None or not (actor.is_manager or order.user_id == actor.user_id):
        raise NotFound("Order", order_id)
    return order
