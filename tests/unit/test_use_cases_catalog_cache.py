"""Every use case that changes a product's data or stock, or an order, invalidates the cache after
it commits; reads go through the cache; failed writes invalidate nothing."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import timedelta

import pytest

from shop.application.orders import cancel_order, fulfil_order, place_order, place_order_once
from shop.application.ports import NO_CACHE, ProductQuery
from shop.application.products import (
    ProductChanges,
    create_product,
    delete_product,
    get_product,
    list_products,
    update_product,
)
from shop.domain.errors import InsufficientStock
from shop.domain.orders import OrderItem
from shop.domain.products import Product

from .conftest import transaction_ended


class RecordingCache:
    """Reads pass through (counted); invalidations are recorded: (products, whose orders)."""

    def __init__(self, store) -> None:
        self.store = store
        self.invalidated: list[tuple[list[int], int | None]] = []
        self.reads = 0

    def product(self, product_id: int, load: Callable[[], Product | None]) -> Product | None:
        self.reads += 1
        return load()

    def page(self, query: ProductQuery, load):
        self.reads += 1
        return load()

    def order_total(self, query, load):
        self.reads += 1
        return load()

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        assert transaction_ended(self.store), "invalidated while the transaction was still open"
        self.invalidated.append((sorted(product_ids), orders_of))


@pytest.fixture
def cache(store) -> RecordingCache:
    return RecordingCache(store)


@pytest.fixture
def tea(add_product) -> Product:
    return add_product("Tea", stock=5)


def test_product_writes_invalidate_the_product(uow, manager, cache, tea):
    created = create_product(uow=uow, actor=manager, name="Cake", price="3", stock=1, cache=cache)
    update_product(uow=uow, actor=manager, product_id=tea.id, changes=ProductChanges(stock=9), cache=cache)
    delete_product(uow=uow, actor=manager, product_id=tea.id, cache=cache)

    assert cache.invalidated == [([created.id], None), ([tea.id], None), ([tea.id], None)]


def test_orders_and_cancellations_invalidate_their_products(uow, clock, customer, manager, cache, add_product, tea):
    cake = add_product("Cake", stock=5)
    order = place_order(
        uow=uow, clock=clock, actor=customer, items=[OrderItem(cake.id, 1), OrderItem(tea.id, 2)], cache=cache
    )
    cancel_order(uow=uow, clock=clock, actor=manager, order_id=order.id, cache=cache)

    both = sorted([tea.id, cake.id])
    assert cache.invalidated == [(both, customer.user_id), (both, customer.user_id)]  # a manager's cancel too


def test_an_idempotent_order_invalidates_once_and_its_replay_not_at_all(uow, clock, customer, cache, tea):
    def once():
        return place_order_once(
            uow=uow,
            clock=clock,
            actor=customer,
            items=[OrderItem(tea.id, 1)],
            key="k",
            fingerprint="f",
            key_ttl=timedelta(hours=24),
            render=lambda order: (201, str(order.id)),
            cache=cache,
        )

    once()
    once()

    assert cache.invalidated == [([tea.id], customer.user_id)]


def test_a_failed_order_invalidates_nothing(uow, clock, customer, cache, tea):
    with pytest.raises(InsufficientStock):
        place_order(uow=uow, clock=clock, actor=customer, items=[OrderItem(tea.id, 6)], cache=cache)
    assert cache.invalidated == []


def test_fulfilment_changes_no_product_only_its_owners_listings(uow, clock, customer, manager, cache, tea):
    order = place_order(uow=uow, clock=clock, actor=customer, items=[OrderItem(tea.id, 1)], cache=NO_CACHE)
    fulfil_order(uow=uow, clock=clock, actor=manager, order_id=order.id, cache=cache)
    assert cache.invalidated == [([], customer.user_id)]


def test_reads_go_through_the_cache(uow, cache, tea):
    assert get_product(uow=uow, product_id=tea.id, cache=cache).name == "Tea"
    assert list_products(uow=uow, query=ProductQuery(), cache=cache)[1] == 1
    assert cache.reads == 2
