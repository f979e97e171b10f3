"""The Redis caches: read-through, invalidated by writes, never poisoned by a late reader."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import redis

from shop.adapters.cache import RedisAccessCache, RedisCatalogCache, redis_client
from shop.application.ports import AccessState, OrderQuery, Page, ProductQuery
from shop.domain.money import Money
from shop.domain.orders import OrderStatus
from shop.domain.products import Product
from shop.domain.users import Role

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.fail("Redis is not reachable on 127.0.0.1:6379; .ci/run starts it")
    return client


@pytest.fixture
def prefix(client):
    """Each test gets its own key space, so runs never see each other's entries."""
    prefix = f"shop-test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def cache(client, prefix):
    return RedisCatalogCache(client, ttl_seconds=60, prefix=prefix)


def tea(stock: int = 5) -> Product:
    return Product(id=1, name="Tea", price=Money(Decimal("2.50"), "TWD"), stock=stock)


class Loader:
    def __init__(self, value):
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.value


def test_a_product_is_loaded_once_then_served_from_redis(cache):
    load = Loader(tea())

    first = cache.product(1, load)
    second = cache.product(1, load)

    assert load.calls == 1
    assert (second.id, second.name, second.price, second.stock) == (1, "Tea", Money(Decimal("2.50"), "TWD"), 5)
    assert first.stock == second.stock


def test_invalidation_makes_the_next_read_load_again(cache):
    cache.product(1, Loader(tea(5)))
    cache.page(ProductQuery(), Loader(([tea(5)], 1)))

    cache.invalidate([1])
    product = cache.product(1, Loader(tea(4)))
    page, total = cache.page(ProductQuery(), Loader(([tea(4)], 1)))

    assert product.stock == 4
    assert (page[0].stock, total) == (4, 1)


def test_a_reader_that_loaded_before_a_write_cannot_store_stale_data(cache):
    def load_then_a_write_commits():
        stale = tea(5)
        cache.invalidate([1])  # the write commits and invalidates while this reader holds old data
        return stale

    cache.product(1, load_then_a_write_commits)

    assert cache.product(1, Loader(tea(4))).stock == 4


def test_pages_are_cached_per_query(cache):
    one = cache.page(ProductQuery(page=Page(1, 20)), Loader(([tea()], 1)))
    other_load = Loader(([], 1))
    other = cache.page(ProductQuery(page=Page(2, 20)), other_load)

    assert other_load.calls == 1
    assert (len(one[0]), len(other[0])) == (1, 0)


def test_a_missing_product_is_cached_as_missing_until_created(cache):
    assert cache.product(7, Loader(None)) is None
    assert cache.product(7, Loader(tea())) is None
    cache.invalidate([7])
    assert cache.product(7, Loader(tea())) is not None


def test_without_redis_every_read_loads_and_writes_still_succeed():
    unreachable = RedisCatalogCache(redis_client("redis://127.0.0.1:1/0"), ttl_seconds=60)
    load = Loader(tea())

    assert unreachable.product(1, load).stock == 5
    assert unreachable.product(1, load).stock == 5
    unreachable.invalidate([1])
    assert load.calls == 2


def test_access_state_is_cached_per_token_until_the_user_is_forgotten(client, prefix):
    access = RedisAccessCache(client, ttl_seconds=60, prefix=prefix)
    standing = Loader(AccessState(Role.CUSTOMER, True, 0, False))

    assert access.state(1, "jti", "fam", standing) == AccessState(Role.CUSTOMER, True, 0, False)
    assert access.state(1, "jti", "fam", Loader(None)) == AccessState(Role.CUSTOMER, True, 0, False)
    assert access.state(1, "other", "fam", Loader(None)) is None
    access.forget_user(1)
    assert access.state(1, "jti", "fam", Loader(AccessState(Role.CUSTOMER, True, 0, True))).revoked
    assert standing.calls == 1


def test_forgetting_one_user_keeps_the_others(client, prefix):
    access = RedisAccessCache(client, ttl_seconds=60, prefix=prefix)
    access.state(1, "a", "f", Loader(AccessState(Role.CUSTOMER, True, 0, False)))
    access.state(2, "b", "f", Loader(AccessState(Role.MANAGER, True, 3, False)))

    access.forget_user(1)

    assert access.state(2, "b", "f", Loader(None)) == AccessState(Role.MANAGER, True, 3, False)
    assert access.state(1, "a", "f", Loader(None)) is None


# Order listing totals


def test_a_listing_total_is_counted_once_until_an_order_of_its_owner_changes(cache):
    alices, everyones = OrderQuery(page=Page(1, 20), user_id=1), OrderQuery(page=Page(1, 20))
    cancelled = OrderQuery(page=Page(1, 20), user_id=1, status=OrderStatus.CANCELLED)
    load_alice, load_all, load_cancelled = Loader(3), Loader(10), Loader(1)

    assert [cache.order_total(alices, load_alice) for _ in range(2)] == [3, 3]
    assert [cache.order_total(everyones, load_all) for _ in range(2)] == [10, 10]
    assert cache.order_total(cancelled, load_cancelled) == 1
    assert (load_alice.calls, load_all.calls, load_cancelled.calls) == (1, 1, 1)

    cache.invalidate([7], orders_of=2)  # bob ordered: alice's totals stand, everyone's doesn't
    cache.order_total(alices, load_alice)
    cache.order_total(everyones, load_all)
    assert (load_alice.calls, load_all.calls) == (1, 2)

    cache.invalidate([7])  # a product changed, no order: totals stand
    cache.order_total(everyones, load_all)
    assert load_all.calls == 2

    cache.invalidate([], orders_of=1)
    load_alice.value = 4
    assert cache.order_total(alices, load_alice) == 4
    cache.order_total(cancelled, load_cancelled)
    assert (load_alice.calls, load_cancelled.calls) == (2, 2)


def test_a_status_change_alone_leaves_the_catalog_cached(cache):
    load = Loader(([tea()], 1))
    cache.page(ProductQuery(), load)

    cache.invalidate([], orders_of=1)  # a fulfilment: no product changed
    cache.page(ProductQuery(), load)

    assert load.calls == 1


def test_listing_totals_without_redis_are_counted_each_time():
    unreachable = RedisCatalogCache(redis_client("redis://127.0.0.1:1/0"), ttl_seconds=60)
    load = Loader(3)

    assert [unreachable.order_total(OrderQuery(page=Page(1, 20), user_id=1), load) for _ in range(2)] == [3, 3]
    unreachable.invalidate([1], orders_of=1)  # logged, not raised: the order is committed whatever Redis says
    assert load.calls == 2
