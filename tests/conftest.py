"""Database fixtures shared by the integration and API suites.

PostgreSQL runs when TEST_DATABASE_URL is set (CI sets it and fails when the server is down);
SQLite always runs, on a file, as in production. With PostgreSQL, the tests taking `database_url`
also run through a real PgBouncer in transaction pooling, started here (skipped with the reason
when pgbouncer is not installed, except in CI: SHOP_REQUIRE_PGBOUNCER=1).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from shop.adapters.sql.engine import PGBOUNCER, make_engine
from shop.adapters.sql.migrations import upgrade
from shop.adapters.sql.tables import metadata
from tests.servers import PG_BIN, PgBouncer, PostgresServer, required

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
# The URLs that lead through the test PgBouncer: engines for them are made as DB_POOLER=pgbouncer makes them.
POOLED_URLS: set[str] = set()


def database_env(url: str) -> dict[str, str]:
    """The environment a service reaching url is given: DB_POOLER=pgbouncer too through the test PgBouncer."""
    return {"DATABASE_URL": url, **({"DB_POOLER": PGBOUNCER} if url in POOLED_URLS else {})}


def engine_for(url: str, **options: Any) -> Engine:
    """make_engine as the service would call it for url: through PgBouncer, with DB_POOLER=pgbouncer."""
    return make_engine(url, pooler=PGBOUNCER if url in POOLED_URLS else "", **options)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test: one migration run per session."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (CI always sets it)")
    # PostgreSQL allows 100 connections by default: stay well below, threads queue for the pool.
    engine = make_engine(PG_URL, pool_size=20, max_overflow=10)
    with engine.begin() as conn:  # a clean schema, then the real migrations
        metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(PG_URL)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_engine: Engine) -> str:
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    with pg_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return PG_URL


@pytest.fixture(scope="session")
def pgbouncer(pg_engine: Engine) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction pooling in front of the test PostgreSQL, for the whole session."""
    reason = required("SHOP_REQUIRE_PGBOUNCER", ["pgbouncer"], "pgbouncer")
    if reason:
        pytest.skip(reason)
    bouncer = PgBouncer(make_url(PG_URL)).start()
    POOLED_URLS.add(bouncer.url)
    yield bouncer
    POOLED_URLS.discard(bouncer.url)
    bouncer.stop()


@pytest.fixture
def pgbouncer_url(pg_url: str, pgbouncer: PgBouncer) -> str:
    """The test database, emptied, through PgBouncer."""
    return pgbouncer.url


# The fixture giving each kind of database's URL, emptied and migrated.
DATABASE_FIXTURES = {"sqlite": "sqlite_url", "postgres": "pg_url", "pgbouncer": "pgbouncer_url"}


@pytest.fixture(params=list(DATABASE_FIXTURES))
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on SQLite, on PostgreSQL, and on PostgreSQL through PgBouncer."""
    return str(request.getfixturevalue(DATABASE_FIXTURES[request.param]))


@pytest.fixture
def engine(database_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    if database_url == PG_URL:
        yield request.getfixturevalue("pg_engine")
        return
    engine = engine_for(database_url)
    yield engine
    engine.dispose()


class StreamingPair:
    """A PostgreSQL of the test's own and its streaming replicas, removed when the test ends."""

    def __init__(self) -> None:
        self.primary = PostgresServer.initdb("primary").start()
        self.servers = [self.primary]

    def replica(self, *, apply_delay_ms: int = 0) -> PostgresServer:
        """A new streaming replica of the primary (pg_basebackup -R); apply_delay_ms sets
        recovery_min_apply_delay, for a replica that lags behind on purpose."""
        replica = self.primary.replica(f"replica{len(self.servers)}", apply_delay_ms=apply_delay_ms)
        self.servers.append(replica)
        return replica

    def remove(self) -> None:
        for server in reversed(self.servers):
            server.remove()


@pytest.fixture
def streaming_pair() -> Iterator[StreamingPair]:
    """A primary started for the test (initdb into a temporary directory, a free port), ready to
    give replicas. Skipped when PostgreSQL's server binaries are not installed, except where
    SHOP_REQUIRE_PG_BIN=1 (CI)."""
    reason = required("SHOP_REQUIRE_PG_BIN", [str(PG_BIN / "initdb"), str(PG_BIN / "pg_basebackup")], "postgresql-15")
    if reason:
        pytest.skip(reason)
    pair = StreamingPair()
    try:
        yield pair
    finally:
        pair.remove()


BROKER_URL = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture(scope="session")
def broker_url() -> str:
    """The RabbitMQ the event tests publish to. CI starts it and sets SHOP_REQUIRE_BROKER=1, so there a
    broker that can't be reached fails the run instead of skipping these tests."""
    import pika
    import pika.exceptions

    try:
        pika.BlockingConnection(pika.URLParameters(BROKER_URL)).close()
    except (pika.exceptions.AMQPError, OSError) as error:
        if os.environ.get("SHOP_REQUIRE_BROKER") == "1":
            pytest.fail(f"SHOP_REQUIRE_BROKER=1 but RabbitMQ can't be reached at {BROKER_URL}: {error!r}")
        pytest.skip(f"RabbitMQ can't be reached at {BROKER_URL} (CI starts it and sets SHOP_REQUIRE_BROKER=1)")
    return BROKER_URL
