"""Behind PgBouncer in transaction pooling (DB_POOLER=pgbouncer): no startup options, no server-side
prepared statements, the deadline and the read-only guard set per transaction, and nothing a client
does outlives its transaction on a server connection the next client gets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from shop.adapters.sql.engine import PGBOUNCER, make_engine
from shop.adapters.sql.migrations import current_revision, head_revision, upgrade
from shop.adapters.sql.tables import metadata
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.messages import Message
from shop.domain.users import User
from tests.servers import PgBouncer, libpq_url

DEFAULTS = {"statement_timeout": "0", "lock_timeout": "0", "transaction_read_only": "off"}


@pytest.fixture
def one_server_connection(pg_url: str, pgbouncer: PgBouncer) -> Iterator[str]:
    """A PgBouncer of its own with a single server connection: every client's transactions run on
    the same PostgreSQL session, one after the other."""
    bouncer = PgBouncer(make_url(pg_url), pool_size=1).start()
    yield bouncer.url
    bouncer.stop()


def settings_seen_by_another_client(url: str) -> tuple[int, dict[str, str]]:
    """What a plain client of the same PgBouncer finds on the server connection: its pid, and settings."""
    with psycopg.connect(libpq_url(url), autocommit=True, prepare_threshold=None) as client:

        def one(sql: str) -> Any:
            row = client.execute(sql.encode()).fetchone()
            assert row is not None
            return row[0]

        return one("SELECT pg_backend_pid()"), {name: str(one(f"SHOW {name}")) for name in DEFAULTS}


def show_in(uow: SqlUnitOfWork, *names: str) -> tuple[int, dict[str, str]]:
    assert uow._conn is not None
    connection = uow._conn.connection()
    pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    return pid, {name: connection.exec_driver_sql(f"SHOW {name}").scalar_one() for name in names}


def test_settings_of_a_unit_of_work_end_with_its_transaction(one_server_connection: str) -> None:
    url = one_server_connection
    writer = make_engine(url, pooler=PGBOUNCER, statement_timeout_ms=1500)
    reader = make_engine(url, pooler=PGBOUNCER, statement_timeout_ms=1500, read_only=True)

    with SqlUnitOfWork(writer, lock_timeout_ms=300) as uow:  # an order's unit of work
        pid, inside = show_in(uow, "statement_timeout", "lock_timeout", "transaction_read_only")
        assert inside == {"statement_timeout": "300ms", "lock_timeout": "300ms", "transaction_read_only": "off"}
        uow.users.add(User(username="alice", password_hash="h"))
        uow.commit()
    assert settings_seen_by_another_client(url) == (pid, DEFAULTS)

    with SqlUnitOfWork(writer) as uow:
        expected = {"statement_timeout": "1500ms", "lock_timeout": "0"}
        assert show_in(uow, "statement_timeout", "lock_timeout") == (pid, expected)
    assert settings_seen_by_another_client(url) == (pid, DEFAULTS)

    with SqlUnitOfWork(reader) as uow:
        assert uow.users.get_by_username("alice") is not None
        assert show_in(uow, "statement_timeout", "transaction_read_only") == (
            pid,
            {"statement_timeout": "1500ms", "transaction_read_only": "on"},
        )
    assert settings_seen_by_another_client(url) == (pid, DEFAULTS)
    writer.dispose()
    reader.dispose()


def test_the_reader_cannot_write_and_the_deadline_holds(pgbouncer_url: str) -> None:
    reader = make_engine(pgbouncer_url, pooler=PGBOUNCER, read_only=True)
    timed = make_engine(pgbouncer_url, pooler=PGBOUNCER, statement_timeout_ms=200)

    with SqlUnitOfWork(reader) as uow, pytest.raises(DBAPIError, match="read-only transaction"):
        uow.users.add(User(username="bob", password_hash="h"))
    with timed.connect() as connection, pytest.raises(OperationalError, match="statement timeout"):
        connection.execute(text("SELECT pg_sleep(2)"))
    reader.dispose()
    timed.dispose()


def test_no_statement_is_prepared_on_a_server_connection_the_next_transaction_may_not_have(
    pgbouncer_url: str,
) -> None:
    """psycopg prepares a query run five times; through transaction pooling the prepared statement
    stays on one server connection while the client's next transaction may get another."""
    engine = make_engine(pgbouncer_url, pooler=PGBOUNCER, pool_size=1, max_overflow=0)
    other = psycopg.connect(libpq_url(pgbouncer_url), prepare_threshold=None)
    try:
        with engine.connect() as connection:
            for _ in range(8):
                connection.execute(text("SELECT count(*) FROM users WHERE id > :id"), {"id": 0})
                connection.commit()
            other.execute("SELECT 1")  # holds, in its open transaction, the server connection just used
            assert connection.execute(text("SELECT count(*) FROM users WHERE id > :id"), {"id": 0}).scalar() == 0
    finally:
        other.close()
        engine.dispose()


def test_a_direct_engine_is_refused_by_pgbouncer(pgbouncer_url: str) -> None:
    """The test PgBouncer is as strict as a default one: startup options are refused, so every
    test that passes through it proves the engine sends none."""
    direct = make_engine(pgbouncer_url)
    with pytest.raises(OperationalError, match="unsupported startup parameter"), direct.connect():
        pass
    direct.dispose()


def test_migrations_run_through_pgbouncer(pgbouncer_url: str, pg_engine: Engine) -> None:
    with pg_engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(text("DROP TABLE alembic_version"))

    upgrade(pgbouncer_url)

    with pg_engine.connect() as connection:
        assert current_revision(connection) == head_revision()


def test_a_transaction_of_deferred_writes_alone_gets_its_deadline_too(pgbouncer_url: str) -> None:
    """Writes deferred to the COMMIT go out on the driver's connection; the transaction they open
    must still begin with the deadline."""
    engine = make_engine(pgbouncer_url, pooler=PGBOUNCER, statement_timeout_ms=1500)
    begun: list[object] = []
    event.listen(engine, "begin", begun.append)

    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add([Message("product.created", "product", 7, datetime(2026, 1, 1, tzinfo=UTC), {"id": 7})])
        uow.commit()

    assert len(begun) == 1
    with SqlUnitOfWork(engine) as uow:
        assert uow.outbox.backlog().pending == 1
    engine.dispose()
