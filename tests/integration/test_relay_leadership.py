"""Only one relay publishes at a time: the lock on PostgreSQL (advisory) and SQLite (a file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shop.adapters.sql.leadership import AdvisoryLock, FileLock, relay_leadership
from shop.application.ports.broker import Leadership

TEST_KEY = 0x5E57  # not the relay's own key: a relay running on this machine must not interfere


@pytest.fixture
def locks(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Leadership]]:
    """Two contenders for the same lock, on the database under test."""
    made: list[Leadership]
    if request.param == "sqlite":
        made = [FileLock(tmp_path / "shop.db.relay.lock") for _ in range(2)]
    else:
        url = request.getfixturevalue("pg_url")
        made = [AdvisoryLock(url, key=TEST_KEY) for _ in range(2)]
    yield made
    for lock in made:
        lock.release()


@pytest.mark.parametrize("locks", ["sqlite", "postgres"], indirect=True)
def test_one_holds_the_other_waits_and_takes_over_on_release(locks: list[Leadership]) -> None:
    first, second = locks

    assert first.hold()
    assert not second.hold()
    assert first.hold(), "holding is idempotent"
    first.release()

    assert second.hold()
    assert not first.hold()


def test_a_relay_whose_session_dies_loses_the_lock_to_the_other(pg_url: str) -> None:
    first, second = AdvisoryLock(pg_url, key=TEST_KEY), AdvisoryLock(pg_url, key=TEST_KEY)
    try:
        assert first.hold()
        engine = create_engine(pg_url)
        with engine.begin() as conn:  # what an operator or a failover does to its connection
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :key AND granted"
                ),
                {"key": TEST_KEY},
            )
        engine.dispose()

        assert second.hold(), "the lock went with the session"
        assert not first.hold(), "the first relay notices it lost the lock, and stands by"
    finally:
        first.release()
        second.release()


def test_the_database_url_chooses_the_lock(tmp_path: Path) -> None:
    assert isinstance(relay_leadership(f"sqlite:///{tmp_path / 'shop.db'}"), FileLock)
    assert isinstance(relay_leadership("postgresql+psycopg://postgres@127.0.0.1:5432/test"), AdvisoryLock)


def test_behind_pgbouncer_the_lock_is_taken_on_the_direct_connection() -> None:
    """A session advisory lock taken through transaction pooling stays on whichever server connection
    ran it, held for no one (and never let go when the relay dies): the lock needs a session."""
    pooled, direct = "postgresql+psycopg://shop@pgbouncer:6432/shop", "postgresql+psycopg://shop@db:5432/shop"
    with pytest.raises(ValueError, match="RELAY_DATABASE_URL"):
        relay_leadership(pooled, pooler="pgbouncer")

    lock = relay_leadership(pooled, pooler="pgbouncer", direct_url=direct)

    assert isinstance(lock, AdvisoryLock)
    assert lock.url == direct
    assert isinstance(relay_leadership(pooled, direct_url=direct), AdvisoryLock)
