"""The listing totals: read through the cache port, forgotten by every change to an order."""

from __future__ import annotations

from collections.abc import Callable, Collection

import pytest

from shop.adapters.memory import MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.orders import list_orders, place_order
from shop.application.ports import OrderQuery, Page
from shop.domain.orders import OrderItem
from shop.domain.products import Product

from .conftest import FakeClock


class RememberingTotals:
    """Keeps listing totals as a shared cache would, until told an owner's orders changed."""

    def __init__(self) -> None:
        self.remembered: dict[tuple[int | None, str | None], int] = {}
        self.loads = 0

    def order_total(self, query: OrderQuery, load: Callable[[], int]) -> int:
        key = (query.user_id, query.status.value if query.status else None)
        if key not in self.remembered:
            self.loads += 1
            self.remembered[key] = load()
        return self.remembered[key]

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        self.remembered = {k: v for k, v in self.remembered.items() if k[0] not in (orders_of, None)}


@pytest.fixture
def tea(add_product: Callable[..., Product]) -> Product:
    return add_product("Tea", stock=3)


def one(product: Product) -> list[OrderItem]:
    assert product.id is not None
    return [OrderItem(product.id, 1)]


def test_a_listing_total_is_read_once_and_counted_again_after_an_order(
    uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, tea: Product
) -> None:
    cache = RememberingTotals()
    query = OrderQuery(page=Page(1, 20))
    place_order(uow=uow, clock=clock, actor=customer, items=one(tea), cache=cache)
    assert list_orders(uow=uow, actor=customer, query=query, cache=cache)[1] == 1
    assert list_orders(uow=uow, actor=customer, query=query, cache=cache)[1] == 1
    assert cache.loads == 1

    place_order(uow=uow, clock=clock, actor=customer, items=one(tea), cache=cache)
    found, total = list_orders(uow=uow, actor=customer, query=query, cache=cache)

    assert (len(found), total, cache.loads) == (2, 2, 2)


def test_a_page_past_the_total_is_not_fetched(
    uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, tea: Product
) -> None:
    place_order(uow=uow, clock=clock, actor=customer, items=one(tea))

    assert list_orders(uow=uow, actor=customer, query=OrderQuery(page=Page(5, 20))) == ([], 1)
