"""The views' cache in Redis: one round trip for a token's standing and a body, invalidated by
writes, never poisoned by a late reader."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from shop.adapters.redis.versioned import redis_client
from shop.adapters.redis.views import RedisViewCache
from shop.application.ports.caches import Entry
from shop.application.ports.tokens import AccessState
from shop.domain.users import Role

REDIS_URL = "redis://127.0.0.1:6379/0"
TEA = Entry("product", "1")
CATALOG = Entry("products", "catalog", "page-1")
ALICE = (1, "jti", "fam")
STANDING = AccessState(Role.CUSTOMER, True, 0, False)


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
def cache(client: redis.Redis, prefix: str) -> RedisViewCache:
    return RedisViewCache(client, ttl_seconds=60, prefix=prefix)


def test_a_standing_and_a_body_kept_are_read_back_together(cache: RedisViewCache) -> None:
    missed = cache.read(ALICE, TEA)
    assert (missed.standing_found, missed.body) == (False, None)
    cache.keep(missed, standing=STANDING, body=b'{"id": 1}\n')

    hit = cache.read(ALICE, TEA)

    assert (hit.standing_found, hit.standing, hit.body) == (True, STANDING, b'{"id": 1}\n')


def test_an_unknown_token_is_remembered_as_unknown(cache: RedisViewCache) -> None:
    cache.keep(cache.read(ALICE, None), standing=None)
    hit = cache.read(ALICE, None)
    assert (hit.standing_found, hit.standing) == (True, None)


def test_invalidation_makes_the_next_read_miss(cache: RedisViewCache) -> None:
    cache.keep(cache.read(None, TEA), body=b"tea")
    cache.keep(cache.read(None, CATALOG), body=b"page")

    cache.invalidate([1])

    assert cache.read(None, TEA).body is None
    assert cache.read(None, CATALOG).body is None


def test_a_reader_that_read_before_a_write_cannot_store_stale_data(cache: RedisViewCache) -> None:
    before = cache.read(None, TEA)
    cache.invalidate([1])  # a write commits while the reader loads
    cache.keep(before, body=b"stale")
    assert cache.read(None, TEA).body is None


def test_entries_are_cached_per_key(cache: RedisViewCache) -> None:
    cache.keep(cache.read(None, CATALOG), body=b"page 1")
    assert cache.read(None, Entry("products", "catalog", "page-2")).body is None
    assert cache.read(None, CATALOG).body == b"page 1"


def test_an_order_status_change_leaves_the_catalog_and_other_customers_cached(cache: RedisViewCache) -> None:
    alices, bobs = Entry("orders", "1", "q"), Entry("orders", "2", "q")
    for entry in (TEA, CATALOG, alices, bobs, Entry("orders", "all", "q")):
        cache.keep(cache.read(None, entry), body=b"x")

    cache.invalidate([], orders_of=1)

    assert [cache.read(None, entry).body for entry in (TEA, CATALOG, bobs)] == [b"x", b"x", b"x"]
    assert cache.read(None, alices).body is None
    assert cache.read(None, Entry("orders", "all", "q")).body is None


def test_a_standing_is_kept_per_token_until_the_user_is_forgotten(cache: RedisViewCache) -> None:
    cache.keep(cache.read(ALICE, None), standing=STANDING)
    cache.keep(cache.read((2, "b", "f"), None), standing=AccessState(Role.MANAGER, True, 3, False))
    assert not cache.read((1, "other", "fam"), None).standing_found

    cache.forget_user(1)

    assert not cache.read(ALICE, None).standing_found
    assert cache.read((2, "b", "f"), None).standing == AccessState(Role.MANAGER, True, 3, False)


def test_without_redis_every_read_misses_and_writes_still_succeed() -> None:
    unreachable = RedisViewCache(redis_client("redis://127.0.0.1:1/0"), ttl_seconds=60)
    missed = unreachable.read(ALICE, TEA)
    unreachable.keep(missed, standing=STANDING, body=b"x")
    unreachable.invalidate([1])
    unreachable.forget_user(1)
    assert (missed.standing_found, missed.body, missed.body_slot) == (False, None, None)


def test_a_cache_outage_is_logged_once_and_its_end_told(
    cache: RedisViewCache, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    working = cache._get_many

    def unreachable(**_: object) -> None:
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(cache, "_get_many", unreachable)
    for _ in range(3):
        assert cache.read(ALICE, TEA).body is None
    monkeypatch.setattr(cache, "_get_many", working)
    cache.read(ALICE, TEA)

    told = [r.getMessage() for r in caplog.records if r.name == "shop.adapters.cache"]
    assert told == [
        "cache unreachable; reading from the database: ConnectionError: connection refused",
        "cache unreachable; reading from the database: working again (2 failures after the first went unlogged)",
    ]
