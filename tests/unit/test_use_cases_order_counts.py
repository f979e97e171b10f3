"""The listing totals: read through the OrderCounts port, forgotten by every change to an order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shop.adapters.memory import MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.orders import cancel_order, fulfil_order, list_orders, place_order, place_order_once
from shop.application.ports import OrderQuery, Page
from shop.domain.errors import InsufficientStock
from shop.domain.orders import OrderItem
from shop.domain.products import Product

from .conftest import FakeClock


class RecordingCounts:
    """Remembers totals like a cache would, and what it was told to forget."""

    def __init__(self) -> None:
        self.remembered: dict[tuple[int | None, str | None], int] = {}
        self.forgotten: list[int] = []
        self.loads = 0

    def total(self, query: OrderQuery, load: Callable[[], int]) -> int:
        key = (query.user_id, query.status.value if query.status else None)
        if key not in self.remembered:
            self.loads += 1
            self.remembered[key] = load()
        return self.remembered[key]

    def forget(self, user_id: int) -> None:
        self.forgotten.append(user_id)
        self.remembered = {k: v for k, v in self.remembered.items() if k[0] not in (user_id, None)}


@pytest.fixture
def counts() -> RecordingCounts:
    return RecordingCounts()


@pytest.fixture
def tea(add_product: Callable[..., Product]) -> Product:
    return add_product("Tea", stock=3)


def one(product: Product, quantity: int = 1) -> list[OrderItem]:
    assert product.id is not None
    return [OrderItem(product.id, quantity)]


def test_a_listing_total_is_read_once_and_forgotten_when_an_order_is_placed(
    uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, tea: Product, counts: RecordingCounts
) -> None:
    query = OrderQuery(page=Page(1, 20))
    place_order(uow=uow, clock=clock, actor=customer, items=one(tea), counts=counts)
    assert list_orders(uow=uow, actor=customer, query=query, counts=counts)[1] == 1
    assert list_orders(uow=uow, actor=customer, query=query, counts=counts)[1] == 1
    assert counts.loads == 1

    place_order(uow=uow, clock=clock, actor=customer, items=one(tea), counts=counts)
    found, total = list_orders(uow=uow, actor=customer, query=query, counts=counts)

    assert (len(found), total, counts.loads) == (2, 2, 2)
    assert counts.forgotten == [customer.user_id, customer.user_id]


def test_every_change_to_an_order_forgets_its_owners_totals_and_failures_forget_nothing(
    uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, manager: Actor, tea: Product, counts: RecordingCounts
) -> None:
    first = place_order(uow=uow, clock=clock, actor=customer, items=one(tea))
    second = place_order(uow=uow, clock=clock, actor=customer, items=one(tea))
    assert first.id is not None
    assert second.id is not None

    with pytest.raises(InsufficientStock):
        place_order(uow=uow, clock=clock, actor=customer, items=one(tea, 5), counts=counts)
    assert counts.forgotten == []
    cancel_order(uow=uow, clock=clock, actor=manager, order_id=first.id, counts=counts)
    fulfil_order(uow=uow, clock=clock, actor=manager, order_id=second.id, counts=counts)
    place_order_once(
        uow=uow,
        clock=clock,
        actor=customer,
        items=one(tea),
        key="k",
        fingerprint="f",
        key_ttl=timedelta(hours=24),
        render=lambda order: (201, str(order.id)),
        counts=counts,
    )

    assert counts.forgotten == [customer.user_id] * 3  # the owner's, even when a manager acted


def test_a_page_past_the_total_is_not_fetched(
    uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, tea: Product
) -> None:
    place_order(uow=uow, clock=clock, actor=customer, items=one(tea))

    assert list_orders(uow=uow, actor=customer, query=OrderQuery(page=Page(5, 20))) == ([], 1)
