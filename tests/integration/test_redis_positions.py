"""Read-your-writes floors in a real Redis: shared by every process, only rising, unknown when down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from shop.adapters.redis.positions import RedisPositions
from shop.adapters.redis.versioned import redis_client
from shop.application.ports.replicas import EVERYONE

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.fail("Redis is not reachable on 127.0.0.1:6379; .ci/run starts it")
    prefix = f"shop-test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_floors_are_shared_and_only_rise(prefix: str) -> None:
    one, other = (RedisPositions(redis_client(REDIS_URL), 60, prefix) for _ in range(2))

    assert one.floor(("7",)) == 0
    one.advance(500, ("7", EVERYONE))
    other.advance(300, ("7",))

    assert other.floor(("7",)) == 500
    assert other.floor((EVERYONE,)) == 500
    other.advance(900, ("8",))
    assert one.floor(("7", "8")) == 900
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl(f"{prefix}7") <= 60


def test_with_redis_down_the_floor_is_unknown_so_the_primary_serves() -> None:
    down = RedisPositions(redis_client("redis://127.0.0.1:1/0"), 60)

    assert down.floor(("7",)) is None
    down.advance(500, ("7",))  # logged, not raised
