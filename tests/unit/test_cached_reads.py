"""CachedReads: the reads that the shared cache answers go through it; everything else goes to the
unit of work it wraps. Invalidation is the handlers' job (test_use_cases_events.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dependency_injector import providers

from shop.adapters.cached_reads import CachedReads
from shop.adapters.memory import MemoryMetrics, MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.handlers import handlers
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Page
from shop.application.ports.products import ProductQuery
from shop.container import Container
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from tests.fakes import FakeClock, RecordingBus, RememberingCache

from ..support import assembled


@pytest.fixture
def cache() -> RememberingCache:
    return RememberingCache()


@pytest.fixture
def use(store: MemoryStore, clock: FakeClock, cache: RememberingCache) -> Container:
    """The use cases as the container assembles them with Redis: reads through the cache, handlers invalidating."""
    bus = RecordingBus(handlers(metrics=MemoryMetrics(), catalog=cache, access=cache))
    use = assembled(lambda: MemoryUnitOfWork(store, bus), clock=clock, bus=bus)
    for reader in (use.reader, use.stale_reader, use.cached_stale_reader):
        reader.override(providers.Callable(lambda: CachedReads(MemoryUnitOfWork(store, bus), cache, cache)))
    return use


@pytest.fixture
def tea(add_product: Callable[..., Product]) -> Product:
    return add_product("Tea", stock=3)


def test_product_reads_are_answered_by_the_cache_until_a_change(
    use: Container, cache: RememberingCache, manager: Actor, customer: Actor, tea: Product
) -> None:
    assert use.get_product(product_id=tea.id).stock == 3
    assert use.list_products(query=ProductQuery())[1] == 1
    assert use.get_product(product_id=tea.id).stock == 3
    assert cache.loads == ["product", "products"]

    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)])

    assert use.get_product(product_id=tea.id).stock == 2
    assert use.list_products(query=ProductQuery())[0][0].stock == 2
    assert cache.loads == ["product", "products", "product", "products"]


def test_an_order_listing_is_read_once_and_loaded_again_after_an_order(
    use: Container, cache: RememberingCache, customer: Actor, tea: Product
) -> None:
    query = OrderQuery(page=Page(1, 20))
    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)])
    assert use.list_orders(actor=customer, query=query)[1] == 1
    assert use.list_orders(actor=customer, query=query)[1] == 1
    assert cache.loads == ["orders"]

    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)])
    found, total = use.list_orders(actor=customer, query=query)

    assert (len(found), total, cache.loads) == (2, 2, ["orders", "orders"])


def test_writes_through_it_reach_the_unit_of_work(store: MemoryStore, cache: RememberingCache, tea: Product) -> None:
    with CachedReads(MemoryUnitOfWork(store), cache, cache) as uow:
        product = uow.products.get_for_update([tea.id or 0])[tea.id or 0]
        product.take(1)
        uow.products.save(product)
        uow.commit()
    assert store.state.products[tea.id or 0].stock == 2
    assert cache.loads == []
