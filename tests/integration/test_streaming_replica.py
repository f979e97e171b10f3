"""The streaming replica fixture: what the primary commits reaches its replicas, a delayed one later."""

from __future__ import annotations

import time
from collections.abc import Callable

from shop.adapters.sql.migrations import head_revision, upgrade
from tests.conftest import StreamingPair
from tests.servers import PostgresServer


def revision(server: PostgresServer) -> str | None:
    if server.execute("SELECT to_regclass('alembic_version') IS NULL") == [(True,)]:
        return None
    [(version,)] = server.execute("SELECT version_num FROM alembic_version")
    return str(version)


def seconds_until(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not replicated within {timeout}s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_write_on_the_primary_reaches_the_replica_and_the_delayed_one_later(streaming_pair: StreamingPair) -> None:
    replica = streaming_pair.replica()
    delayed = streaming_pair.replica(apply_delay_ms=1500)
    assert replica.execute("SELECT pg_is_in_recovery()") == [(True,)]

    upgrade(streaming_pair.primary.url())
    committed = time.monotonic()

    assert seconds_until(lambda: revision(replica) == head_revision(), timeout=10) < 5
    seconds_until(lambda: revision(delayed) == head_revision(), timeout=10)
    assert time.monotonic() - committed >= 1.4, "the delayed replica applies 1.5 s after the commit"
