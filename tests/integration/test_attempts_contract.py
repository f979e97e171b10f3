"""One contract, four stores of attempts: in memory, SQLite, PostgreSQL and Redis count alike, and
count attempts made at the same moment one by one."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis

from shop.adapters.memory.attempts import MemoryAttempts
from shop.adapters.redis.attempts import RedisAttempts
from shop.adapters.sql.attempts import SqlAttempts
from shop.adapters.sql.engine import make_engine
from shop.application.ports.attempts import Attempts, Limit, Refused, Taken

# Redis expires keys by its own clock, a window after each take: any date will do, now is honest.
NOW = datetime.now(UTC).replace(microsecond=0)
FIVE_A_MINUTE = Limit(5, timedelta(minutes=1))
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def attempts(request: pytest.FixtureRequest) -> Iterator[Attempts]:
    if request.param == "memory":
        yield MemoryAttempts()
    elif request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.ping()
        except redis.RedisError:
            pytest.fail(f"Redis is not reachable at {REDIS_URL}; .ci/run starts it")
        prefix = f"shop:test-attempts:{uuid.uuid4().hex}:"  # Redis is shared: a space of this test's own
        yield RedisAttempts(client, prefix=prefix)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
    else:
        engine = make_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
        yield SqlAttempts(engine)
        engine.dispose()


def take_many(attempts: Attempts, count: int, key: str = "login:alice", now: datetime = NOW) -> list[str]:
    return ["taken" if isinstance(attempts.take(key, FIVE_A_MINUTE, now), Taken) else "refused" for _ in range(count)]


def test_attempts_are_taken_up_to_the_limit(attempts: Attempts) -> None:
    assert take_many(attempts, 7) == ["taken"] * 5 + ["refused"] * 2


def test_a_refusal_says_when_the_oldest_attempt_leaves_the_window(attempts: Attempts) -> None:
    for second in range(5):
        attempts.take("login:alice", FIVE_A_MINUTE, NOW + timedelta(seconds=second))

    refused = attempts.take("login:alice", FIVE_A_MINUTE, NOW + timedelta(seconds=10))

    assert refused == Refused(timedelta(seconds=50))


def test_the_window_moves(attempts: Attempts) -> None:
    take_many(attempts, 5)

    assert take_many(attempts, 1, now=NOW + timedelta(seconds=59)) == ["refused"]
    assert take_many(attempts, 6, now=NOW + timedelta(seconds=60)) == ["taken"] * 5 + ["refused"]


def test_keys_are_counted_apart(attempts: Attempts) -> None:
    take_many(attempts, 5, key="login:alice")

    assert take_many(attempts, 1, key="login:bob") == ["taken"]
    assert take_many(attempts, 1, key="password-change:1") == ["taken"]


def test_a_refund_frees_the_attempt_it_names(attempts: Attempts) -> None:
    first = attempts.take("login:alice", FIVE_A_MINUTE, NOW)
    take_many(attempts, 4)
    assert isinstance(first, Taken)

    attempts.refund(first)

    assert take_many(attempts, 2) == ["taken", "refused"]


def test_any_text_is_a_key(attempts: Attempts) -> None:
    """A username typed into a form may be long, or anything at all."""
    strange = "login:" + "\u00e9\u2603\U0001f600 ' \"; --" * 50

    assert take_many(attempts, 6, key=strange) == ["taken"] * 5 + ["refused"]
    assert take_many(attempts, 1, key="login:") == ["taken"]


def test_attempts_made_at_the_same_moment_are_counted_one_by_one(attempts: Attempts) -> None:
    start = threading.Barrier(20)

    def take(_n: int) -> bool:
        start.wait()
        return isinstance(attempts.take("login:alice", FIVE_A_MINUTE, NOW), Taken)

    with ThreadPoolExecutor(20) as pool:
        taken = sum(pool.map(take, range(20)))

    assert taken == 5


def test_purge_forgets_only_the_attempts_whose_window_passed(attempts: Attempts) -> None:
    take_many(attempts, 2, key="login:old")
    take_many(attempts, 3, key="login:recent", now=NOW + timedelta(seconds=30))

    purged = attempts.purge(NOW + timedelta(seconds=60))

    assert purged in (2, 0)  # Redis forgets them by itself, and has nothing to purge
    assert take_many(attempts, 3, key="login:recent", now=NOW + timedelta(seconds=60)) == ["taken"] * 2 + ["refused"]
    assert take_many(attempts, 5, key="login:old", now=NOW + timedelta(seconds=60)) == ["taken"] * 5
