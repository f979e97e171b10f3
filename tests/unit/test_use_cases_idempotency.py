"""place_order with an Idempotency-Key: at most one order per key and user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.errors import Conflict, Forbidden, IdempotencyMismatch
from shop.application.orders import Idempotency, Placement
from shop.application.ports.idempotency import StoredPlacement
from shop.domain.errors import InsufficientStock
from shop.domain.orders import Order, OrderItem
from shop.domain.products import Product
from tests.fakes import START, FakeClock, RecordingBus

from ..support import KEY_TTL as TTL
from ..support import UseCases


@pytest.fixture
def tea(add_product: Callable[..., Product]) -> Product:
    return add_product("Tea", stock=5)


@pytest.fixture
def place(use: UseCases, tea: Product) -> Callable[..., Placement]:
    def run(actor: Actor, quantity: int = 1, key: str = "k", fingerprint: str | None = None) -> Placement:
        assert tea.id is not None
        placed: Placement = use.place_order(
            actor=actor,
            items=[OrderItem(tea.id, quantity)],
            idempotency=Idempotency(key, fingerprint or f"q={quantity}"),
        )
        return placed

    return run


def order_id(placement: Placement) -> int:
    return int(placement.order["id"])


def orders_in(store: MemoryStore) -> list[Order]:
    return list(store.state.orders.values())


def test_the_first_request_orders_and_the_retry_replays(
    place: Callable[..., Placement], customer: Actor, store: MemoryStore
) -> None:
    first = place(customer)
    retry = place(customer)

    assert (order_id(first), first.replayed) == (1, False)
    assert retry == Placement(first.order, replayed=True)
    assert len(orders_in(store)) == 1
    assert next(iter(store.state.products.values())).stock == 4


def test_the_same_key_with_another_request_is_a_mismatch(
    place: Callable[..., Placement], customer: Actor, store: MemoryStore
) -> None:
    place(customer, quantity=1)

    with pytest.raises(IdempotencyMismatch):
        place(customer, quantity=2)
    assert len(orders_in(store)) == 1


def test_keys_are_scoped_per_user(
    place: Callable[..., Placement], customer: Actor, other_customer: Actor, store: MemoryStore
) -> None:
    assert order_id(place(customer)) == 1
    assert order_id(place(other_customer)) == 2
    assert len(orders_in(store)) == 2


def test_a_failure_stores_nothing_so_the_key_can_be_retried(
    place: Callable[..., Placement],
    customer: Actor,
    store: MemoryStore,
    new_uow: Callable[[], MemoryUnitOfWork],
    tea: Product,
) -> None:
    with pytest.raises(InsufficientStock):
        place(customer, quantity=6)
    assert store.state.responses == {}
    assert tea.id is not None
    with new_uow() as uow:
        restocked = uow.products.get(tea.id)
        assert restocked is not None
        restocked.change(stock=6, now=START)
        uow.products.save(restocked)
        uow.commit()

    retried = place(customer, quantity=6)

    assert (order_id(retried), retried.replayed) == (1, False)


def test_an_expired_key_places_a_new_order(
    place: Callable[..., Placement], customer: Actor, clock: FakeClock, store: MemoryStore
) -> None:
    place(customer)
    clock.advance(TTL + timedelta(seconds=1))

    again = place(customer)

    assert (order_id(again), again.replayed) == (2, False)
    assert len(orders_in(store)) == 2


def test_a_key_still_held_by_a_running_request_is_a_conflict(
    place: Callable[..., Placement], customer: Actor, new_uow: Callable[[], MemoryUnitOfWork], clock: FakeClock
) -> None:
    """Releases before the outbox claimed a key first and completed it at the end: during a rolling
    update, such a claim can be met half-way."""
    with new_uow() as uow:
        uow.idempotency.claim(StoredPlacement(customer.user_id, "k", "q=1", clock.now(), order=None), clock.now())
        uow.commit()

    with pytest.raises(Conflict, match="in progress"):
        place(customer)


def test_managers_cannot_use_it_to_order(place: Callable[..., Placement], manager: Actor, store: MemoryStore) -> None:
    with pytest.raises(Forbidden):
        place(manager)
    assert store.state.responses == {}


def test_purge_drops_keys_older_than_the_ttl(
    use: UseCases,
    place: Callable[..., Placement],
    customer: Actor,
    clock: FakeClock,
    new_uow: Callable[[], MemoryUnitOfWork],
) -> None:
    place(customer, key="old")
    clock.advance(TTL + timedelta(seconds=1))
    place(customer, key="new")

    assert use.purge_idempotency_keys() == 1
    with new_uow() as uow:
        assert uow.idempotency.get(customer.user_id, "old") is None
        assert uow.idempotency.get(customer.user_id, "new") is not None


def test_a_replay_tells_nothing_new(place: Callable[..., Placement], customer: Actor, bus: RecordingBus) -> None:
    place(customer)
    place(customer)

    assert [type(event).__name__ for event in bus.events] == ["OrderPlaced"]
