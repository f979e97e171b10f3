"""place_order_once: at most one order per Idempotency-Key and user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.errors import Conflict, Forbidden, IdempotencyMismatch
from shop.application.orders import Response, place_order_once, purge_idempotency_keys
from shop.domain.errors import InsufficientStock
from shop.domain.orders import Order, OrderItem
from shop.domain.products import Product

from .conftest import FakeClock

TTL = timedelta(hours=24)


@pytest.fixture
def tea(add_product: Callable[..., Product]) -> Product:
    return add_product("Tea", stock=5)


@pytest.fixture
def place(uow: MemoryUnitOfWork, clock: FakeClock, tea: Product) -> Callable[..., Response]:
    def run(actor: Actor, quantity: int = 1, key: str = "k", fingerprint: str | None = None) -> Response:
        assert tea.id is not None
        return place_order_once(
            uow=uow,
            clock=clock,
            actor=actor,
            items=[OrderItem(tea.id, quantity)],
            key=key,
            fingerprint=fingerprint or f"q={quantity}",
            key_ttl=TTL,
            render=lambda order: (201, f"order {order.id}"),
        )

    return run


def orders_in(store: MemoryStore) -> list[Order]:
    return list(store.state.orders.values())


def test_the_first_request_orders_and_the_retry_replays(place, customer, store):
    first = place(customer)
    retry = place(customer)

    assert first == Response(201, "order 1", replayed=False)
    assert retry == Response(201, "order 1", replayed=True)
    assert len(orders_in(store)) == 1
    assert next(iter(store.state.products.values())).stock == 4


def test_the_same_key_with_another_request_is_a_mismatch(place, customer, store):
    place(customer, quantity=1)

    with pytest.raises(IdempotencyMismatch):
        place(customer, quantity=2)
    assert len(orders_in(store)) == 1


def test_keys_are_scoped_per_user(place, customer, other_customer, store):
    assert place(customer).body == "order 1"
    assert place(other_customer).body == "order 2"
    assert len(orders_in(store)) == 2


def test_a_failure_stores_nothing_so_the_key_can_be_retried(place, customer, store, new_uow, tea):
    with pytest.raises(InsufficientStock):
        place(customer, quantity=6)
    assert store.state.responses == {}
    with new_uow() as uow:
        restocked = uow.products.get(tea.id)
        restocked.set_stock(6)
        uow.products.save(restocked)
        uow.commit()

    retried = place(customer, quantity=6)

    assert retried == Response(201, "order 1", replayed=False)


def test_an_expired_key_places_a_new_order(place, customer, clock, store):
    place(customer)
    clock.advance(TTL + timedelta(seconds=1))

    again = place(customer)

    assert again == Response(201, "order 2", replayed=False)
    assert len(orders_in(store)) == 2


def test_a_key_still_held_by_a_running_request_is_a_conflict(place, customer, new_uow, clock):
    with new_uow() as uow:
        uow.idempotency.reserve(customer.user_id, "k", "q=1", clock.now())
        uow.commit()

    with pytest.raises(Conflict, match="in progress"):
        place(customer)


def test_managers_cannot_use_it_to_order(place, manager, store):
    with pytest.raises(Forbidden):
        place(manager)
    assert store.state.responses == {}


def test_purge_drops_keys_older_than_the_ttl(place, customer, clock, new_uow):
    place(customer, key="old")
    clock.advance(TTL + timedelta(seconds=1))
    place(customer, key="new")

    assert purge_idempotency_keys(uow=new_uow(), clock=clock, key_ttl=TTL) == 1
    with new_uow() as uow:
        assert uow.idempotency.get(customer.user_id, "old") is None
        assert uow.idempotency.get(customer.user_id, "new") is not None
