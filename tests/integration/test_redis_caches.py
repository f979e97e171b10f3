"""The Redis caches: read-through, invalidated by writes, never poisoned by a late reader."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Generic, TypeVar, cast

import pytest
import redis

from shop.adapters.redis.access import RedisAccessCache
from shop.adapters.redis.catalog import RedisCatalogCache
from shop.adapters.redis.versioned import redis_client
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing, Page
from shop.application.ports.products import ProductQuery
from shop.application.ports.tokens import AccessState
from shop.domain.money import Money
from shop.domain.orders import Order, OrderLine, OrderStatus
from shop.domain.products import Product
from shop.domain.users import Role

REDIS_URL = "redis://127.0.0.1:6379/0"

T = TypeVar("T")


@pytest.fixture
def client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.fail("Redis is not reachable on 127.0.0.1:6379; .ci/run starts it")
    return client


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    """Each test gets its own key space, so runs never see each other's entries."""
    prefix = f"shop-test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def cache(client: redis.Redis, prefix: str) -> RedisCatalogCache:
    return RedisCatalogCache(client, ttl_seconds=60, prefix=prefix)


def tea(stock: int = 5) -> Product:
    return Product(id=1, name="Tea", price=Money(Decimal("2.50"), "TWD"), stock=stock)


def found(product: Product | None) -> Product:
    """The product a read returned, which must not be missing."""
    assert product is not None
    return product


class Loader(Generic[T]):
    def __init__(self, value: T) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> T:
        self.calls += 1
        return self.value


def test_a_product_is_loaded_once_then_served_from_redis(cache: RedisCatalogCache) -> None:
    load = Loader(tea())

    first = found(cache.product(1, load))
    second = found(cache.product(1, load))

    assert load.calls == 1
    assert (second.id, second.name, second.price, second.stock) == (1, "Tea", Money(Decimal("2.50"), "TWD"), 5)
    assert first.stock == second.stock


@pytest.mark.parametrize(("amount", "currency"), [("1.235", "KWD"), ("1500", "JPY"), ("100.50", "JPY")])
def test_a_cached_price_keeps_its_currencys_decimals(cache: RedisCatalogCache, amount: str, currency: str) -> None:
    stored = Product(id=1, name="Tea", price=Money.trusted(Decimal(amount), currency), stock=5)
    cache.product(1, Loader(stored))
    line = OrderLine(product_id=1, name="Tea", unit_price=stored.price, quantity=3)
    placed = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    query = OrderQuery(page=Page(1, 20), user_id=1)
    cache.orders(query, Loader(Listing([Order(id=7, user_id=1, lines=[line], created_at=placed)], 1)))

    read = found(cache.product(1, cast("Loader[Product | None]", Loader(None))))
    (order,), _total = cache.orders(query, cast("Loader[Listing[Order]]", Loader(None)))

    assert read.price.amount_text == amount
    assert order.total.amount_text == stored.price.times(3).amount_text


def test_invalidation_makes_the_next_read_load_again(cache: RedisCatalogCache) -> None:
    cache.product(1, Loader(tea(5)))
    cache.products(ProductQuery(), Loader(Listing([tea(5)], 1)))

    cache.invalidate([1])
    product = found(cache.product(1, Loader(tea(4))))
    page, total = cache.products(ProductQuery(), Loader(Listing([tea(4)], 1)))

    assert product.stock == 4
    assert (page[0].stock, total) == (4, 1)


def test_a_reader_that_loaded_before_a_write_cannot_store_stale_data(cache: RedisCatalogCache) -> None:
    def load_then_a_write_commits() -> Product:
        stale = tea(5)
        cache.invalidate([1])  # the write commits and invalidates while this reader holds old data
        return stale

    cache.product(1, load_then_a_write_commits)

    assert found(cache.product(1, Loader(tea(4)))).stock == 4


def test_pages_are_cached_per_query(cache: RedisCatalogCache) -> None:
    one = cache.products(ProductQuery(page=Page(1, 20)), Loader(Listing([tea()], 1)))
    other_load: Loader[Listing[Product]] = Loader(Listing([], 1))
    other = cache.products(ProductQuery(page=Page(2, 20)), other_load)

    assert other_load.calls == 1
    assert (len(one[0]), len(other[0])) == (1, 0)


def test_a_missing_product_is_cached_as_missing_until_created(cache: RedisCatalogCache) -> None:
    assert cache.product(7, Loader(None)) is None
    assert cache.product(7, Loader(tea())) is None
    cache.invalidate([7])
    assert cache.product(7, Loader(tea())) is not None


def test_without_redis_every_read_loads_and_writes_still_succeed() -> None:
    unreachable = RedisCatalogCache(redis_client("redis://127.0.0.1:1/0"), ttl_seconds=60)
    load = Loader(tea())

    assert found(unreachable.product(1, load)).stock == 5
    assert found(unreachable.product(1, load)).stock == 5
    unreachable.invalidate([1])
    assert load.calls == 2


def test_a_cache_outage_is_logged_once_and_its_end_told(
    cache: RedisCatalogCache, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    working = cache._get_versioned

    def unreachable(**_: object) -> None:
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(cache, "_get_versioned", unreachable)
    for _ in range(3):
        assert found(cache.product(1, Loader(tea()))).stock == 5
    monkeypatch.setattr(cache, "_get_versioned", working)
    assert found(cache.product(1, Loader(tea()))).stock == 5

    told = [r.getMessage() for r in caplog.records if r.name == "shop.adapters.cache"]
    assert told == [
        "cache unreachable; reading from the database: ConnectionError: connection refused",
        "cache unreachable; reading from the database: working again (2 failures after the first went unlogged)",
    ]


def test_access_state_is_cached_per_token_until_the_user_is_forgotten(client: redis.Redis, prefix: str) -> None:
    access = RedisAccessCache(client, ttl_seconds=60, prefix=prefix)
    standing = Loader(AccessState(Role.CUSTOMER, True, 0, False))

    assert access.state(1, "jti", "fam", standing) == AccessState(Role.CUSTOMER, True, 0, False)
    assert access.state(1, "jti", "fam", Loader(None)) == AccessState(Role.CUSTOMER, True, 0, False)
    assert access.state(1, "other", "fam", Loader(None)) is None
    access.forget_user(1)
    state = access.state(1, "jti", "fam", Loader(AccessState(Role.CUSTOMER, True, 0, True)))
    assert state is not None and state.revoked
    assert standing.calls == 1


def test_forgetting_one_user_keeps_the_others(client: redis.Redis, prefix: str) -> None:
    access = RedisAccessCache(client, ttl_seconds=60, prefix=prefix)
    access.state(1, "a", "f", Loader(AccessState(Role.CUSTOMER, True, 0, False)))
    access.state(2, "b", "f", Loader(AccessState(Role.MANAGER, True, 3, False)))

    access.forget_user(1)

    assert access.state(2, "b", "f", Loader(None)) == AccessState(Role.MANAGER, True, 3, False)
    assert access.state(1, "a", "f", Loader(None)) is None


# Order listings


def orders_of(user_id: int, *ids: int) -> Listing[Order]:
    placed = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    line = OrderLine(product_id=1, name="Tea", unit_price=Money(Decimal("2.50"), "TWD"), quantity=2)
    found = [Order(id=i, user_id=user_id, lines=[line], created_at=placed, updated_at=placed) for i in ids]
    return Listing(found, len(found))


def test_an_order_listing_comes_back_from_redis_as_it_was_stored(cache: RedisCatalogCache) -> None:
    query = OrderQuery(page=Page(1, 20), user_id=1)
    stored = orders_of(1, 7, 8)
    stored.items[1].change_status(OrderStatus.CANCELLED, datetime(2026, 11, 30, 13, 0, tzinfo=UTC))
    cache.orders(query, Loader(stored))

    served = cast("Loader[Listing[Order]]", Loader(None))  # holds no listing: the one read must come from Redis
    (first, second), total = cache.orders(query, served)

    assert total == 2
    for read, original in ((first, stored.items[0]), (second, stored.items[1])):
        assert (read.id, read.user_id, read.status, read.lines, read.total) == (
            original.id,
            original.user_id,
            original.status,
            original.lines,
            original.total,
        )
        assert (read.created_at, read.updated_at, read.cancelled_at) == (
            original.created_at,
            original.updated_at,
            original.cancelled_at,
        )


def test_a_listing_is_loaded_once_until_an_order_of_its_owner_changes(cache: RedisCatalogCache) -> None:
    alices, everyones = OrderQuery(page=Page(1, 20), user_id=1), OrderQuery(page=Page(1, 20))
    cancelled = OrderQuery(page=Page(1, 20), user_id=1, status=OrderStatus.CANCELLED)
    load_alice, load_all = Loader(orders_of(1, 1, 2)), Loader(orders_of(1, 1, 2))
    load_cancelled: Loader[Listing[Order]] = Loader(Listing([], 0))

    assert [cache.orders(alices, load_alice).total for _ in range(2)] == [2, 2]
    assert [cache.orders(everyones, load_all).total for _ in range(2)] == [2, 2]
    assert cache.orders(cancelled, load_cancelled).total == 0
    assert (load_alice.calls, load_all.calls, load_cancelled.calls) == (1, 1, 1)

    cache.invalidate([7], orders_of=2)  # bob ordered: alice's listings stand, everyone's don't
    cache.orders(alices, load_alice)
    cache.orders(everyones, load_all)
    assert (load_alice.calls, load_all.calls) == (1, 2)

    cache.invalidate([7])  # a product changed, no order: listings stand
    cache.orders(everyones, load_all)
    assert load_all.calls == 2

    cache.invalidate([], orders_of=1)
    load_alice.value = orders_of(1, 1, 2, 3)
    assert [o.id for o in cache.orders(alices, load_alice).items] == [1, 2, 3]
    cache.orders(cancelled, load_cancelled)
    assert (load_alice.calls, load_cancelled.calls) == (2, 2)


def test_listings_sorted_otherwise_are_cached_apart(cache: RedisCatalogCache) -> None:
    newest, oldest = OrderQuery(page=Page(1, 20), user_id=1), OrderQuery(page=Page(1, 20), user_id=1, sort=("id",))
    by_total = OrderQuery(page=Page(1, 20), user_id=1, sort=("-total", "created_at"))
    loads = [Loader(orders_of(1, 2, 1)), Loader(orders_of(1, 1, 2)), Loader(orders_of(1, 2, 1))]

    for _ in range(2):
        read = [
            [o.id for o in cache.orders(q, load).items]
            for q, load in zip((newest, oldest, by_total), loads, strict=True)
        ]

    assert read == [[2, 1], [1, 2], [2, 1]]
    assert [load.calls for load in loads] == [1, 1, 1]


def test_a_status_change_alone_leaves_the_catalog_cached(cache: RedisCatalogCache) -> None:
    load = Loader(Listing([tea()], 1))
    cache.products(ProductQuery(), load)

    cache.invalidate([], orders_of=1)  # a fulfilment: no product changed
    cache.products(ProductQuery(), load)

    assert load.calls == 1


def test_listings_without_redis_are_loaded_each_time() -> None:
    unreachable = RedisCatalogCache(redis_client("redis://127.0.0.1:1/0"), ttl_seconds=60)
    load = Loader(orders_of(1, 5))

    assert [unreachable.orders(OrderQuery(page=Page(1, 20), user_id=1), load).total for _ in range(2)] == [1, 1]
    unreachable.invalidate([1], orders_of=1)  # logged, not raised: the order is committed whatever Redis says
    assert load.calls == 2
