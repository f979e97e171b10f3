"""The streaming replica fixture: what the primary commits reaches its replicas, a delayed one later;
and what the service makes of a write that reaches a standby."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.migrations import head_revision, upgrade
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.messages import Message
from shop.domain.users import User
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


def test_a_write_that_reaches_a_standby_is_an_unavailable_database_not_a_bug(streaming_pair: StreamingPair) -> None:
    """A proxy still sending connections to a node that is (again) a standby, as HAProxy does for
    its first checks: the write fails as the database being unavailable (a 503) and the connection
    is dropped, while a write through the reader's guard on the primary stays the bug it is."""
    primary = streaming_pair.primary
    upgrade(primary.url())
    standby = streaming_pair.replica()
    seconds_until(lambda: revision(standby) == head_revision(), timeout=10)
    on_standby = make_engine(standby.url())
    reader_on_primary = make_engine(primary.url(), read_only=True)
    message = Message("product.created", "product", 7, datetime(2026, 1, 1, tzinfo=UTC), {"id": 7})

    with SqlUnitOfWork(on_standby) as uow:
        assert uow._conn is not None
        first = uow._conn.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with pytest.raises(OperationalError) as written:
            uow.users.add(User(username="alice", password_hash="h"))
    with SqlUnitOfWork(on_standby) as uow:
        uow.outbox.add([message])  # sent with the COMMIT, in one round trip
        with pytest.raises(OperationalError) as deferred:
            uow.commit()
    with SqlUnitOfWork(reader_on_primary) as uow, pytest.raises(DBAPIError) as guarded:
        uow.users.add(User(username="bob", password_hash="h"))

    assert written.value.connection_invalidated
    assert deferred.value.connection_invalidated
    assert not isinstance(guarded.value, OperationalError)
    with on_standby.connect() as connection:
        assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != first, "that one was dropped"
    on_standby.dispose()
    reader_on_primary.dispose()


def test_a_write_refused_as_read_only_by_a_server_promoted_since_is_unavailable_too(
    streaming_pair: StreamingPair,
) -> None:
    """Patroni answers GET /primary a moment before its node's recovery ends, so a write can be refused
    as read-only by a server that is a primary when asked right after. Here a writer whose server is
    read-only for another reason stands in for that instant: on the writer's connections a read-only
    refusal always means the database can't take writes yet."""
    primary = streaming_pair.primary
    upgrade(primary.url())
    url = make_url(primary.url()).update_query_dict({"options": "-c default_transaction_read_only=on"})
    writer = make_engine(url.render_as_string(hide_password=False))

    with SqlUnitOfWork(writer) as uow, pytest.raises(OperationalError) as refused:
        uow.users.add(User(username="alice", password_hash="h"))

    assert refused.value.connection_invalidated
    writer.dispose()
