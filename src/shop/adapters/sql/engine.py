"""Engines for PostgreSQL (psycopg 3) and SQLite: deadlines, pools, pings, SQLite's write lock, and
PostgreSQL behind PgBouncer in transaction pooling."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

# The longest one statement (a lock wait included) may take before the database gives up on it:
# the request then fails as a 503 and its transaction is rolled back. Well below gunicorn's
# worker TIMEOUT (30 s), so a request stuck on a lock is answered instead of its worker killed.
# 0 means no deadline: operator commands (a large purge).
STATEMENT_TIMEOUT_MS = 10_000
SQLITE_NO_DEADLINE_MS = 600_000  # SQLite's busy timeout can't be infinite; 0 would not wait at all
# A pooled connection idle for longer than this is pinged before use; busy ones are not.
IDLE_PING_S = 5.0
# An unreachable server fails a request (503) and readiness within seconds, not after TCP's minutes.
PG_CONNECT_TIMEOUT_S = 5
# A request thread that finds every pooled connection taken waits no longer than this (a 503): with
# a pool as large as the threads, that means connections leak, not that the service is busy.
POOL_TIMEOUT_S = 5
# The execution option that marks the engine of read-only units of work (read_only=True).
READS_ONLY = "shop_reads_only"
# DB_POOLER: what stands between the service and PostgreSQL. "" for nothing (direct connections).
PGBOUNCER = "pgbouncer"
POOLERS = ("", PGBOUNCER)


def make_engine(
    url: str,
    *,
    pool_size: int = 8,
    max_overflow: int = 2,
    read_only: bool = False,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    pooler: str = "",
    ping_idle_s: float = IDLE_PING_S,
) -> Engine:
    """An engine for PostgreSQL (psycopg 3) or SQLite, set up for safe concurrent writes.

    read_only: for units of work that only read. Each statement runs on its own (no BEGIN and
    ROLLBACK round trips around a single SELECT) and the database itself refuses any write.
    statement_timeout_ms: PostgreSQL's statement_timeout, SQLite's busy timeout (there it bounds
    only the wait for the write lock); 0 for none.
    pooler: "pgbouncer" for PostgreSQL behind PgBouncer in transaction pooling (see _behind_pgbouncer).
    ping_idle_s: a pooled connection idle longer than this is pinged before use (0: every checkout,
    for a server that may go away while the caller has somewhere else to go, a read replica).
    """
    if pooler not in POOLERS:
        raise ValueError(f"unknown pooler {pooler!r}: one of {POOLERS}")
    engine = _make_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        read_only=read_only,
        statement_timeout_ms=statement_timeout_ms,
        pooler=pooler,
    )
    engine.update_execution_options(**{READS_ONLY: read_only})
    if engine.dialect.name == "postgresql":
        _ping_when_idle(engine, ping_idle_s)
    return engine


def make_replica_engine(url: str, **options: Any) -> Engine:
    """An engine for a read replica: read only, and every pooled connection pinged before use. A
    replica may stop between two reads; its dead connection is then found at checkout (where the
    router sends the read to the primary) instead of failing the read itself."""
    return make_engine(url, read_only=True, ping_idle_s=0, **options)


def _make_engine(
    url: str, *, pool_size: int, max_overflow: int, read_only: bool, statement_timeout_ms: int, pooler: str
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        busy_timeout_ms = statement_timeout_ms or SQLITE_NO_DEADLINE_MS
        return _sqlite_engine(url, read_only=read_only, busy_timeout_ms=busy_timeout_ms)
    if pooler == PGBOUNCER:
        return _behind_pgbouncer(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            read_only=read_only,
            statement_timeout_ms=statement_timeout_ms,
        )
    # Server settings go in libpq's startup `options`, after any the URL itself carries.
    from_url = parsed.query.get("options")
    server_options = [from_url] if isinstance(from_url, str) and from_url else []
    if statement_timeout_ms:
        server_options.append(f"-c statement_timeout={statement_timeout_ms}")
    options: dict[str, Any] = {}
    if read_only:
        server_options.append("-c default_transaction_read_only=on")
        options["isolation_level"] = "AUTOCOMMIT"
    connect_args: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    if server_options:
        connect_args["options"] = " ".join(server_options)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=POOL_TIMEOUT_S,
        connect_args=connect_args,
        # Error messages (and so logs) never carry the values bound to a statement: password hashes, token ids.
        hide_parameters=True,
        **options,
    )
    return engine


def _behind_pgbouncer(
    url: str, *, pool_size: int, max_overflow: int, read_only: bool, statement_timeout_ms: int
) -> Engine:
    """In transaction pooling a server connection is ours from BEGIN to COMMIT only, and the next
    transaction of the same client may run on another one. So nothing is set for the session: no
    startup options (PgBouncer refuses them), no server-side prepared statements (psycopg prepares a
    query it has run 5 times, on a server connection the next transaction may not have), and the
    deadline and the read-only guard are set by the first statement of every transaction, for it
    alone (set_config's is_local). The reader runs short transactions instead of autocommit: each
    autocommit statement would run alone, with no transaction to carry the guard.

    The pool in front of PgBouncer stays: a client connection costs PgBouncer nothing while idle, and
    opening one per unit of work would cost a connection handshake each time (1.0-1.3 ms here)."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=POOL_TIMEOUT_S,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S, "prepare_threshold": None},
        hide_parameters=True,
    )
    settings = []
    if statement_timeout_ms:
        settings.append(f"set_config('statement_timeout', '{int(statement_timeout_ms)}ms', true)")
    if read_only:
        settings.append("set_config('transaction_read_only', 'on', true)")
    if settings:
        for_this_transaction = "SELECT " + ", ".join(settings)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(for_this_transaction)

    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Pre-ping, but only for connections that sat idle: a connection handed back a moment ago is
    alive, and pinging it would cost a round trip on every request. One found dead is replaced."""

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure means this connection can't be trusted
            raise DisconnectionError("idle connection failed its ping") from error
        if not alive:
            raise DisconnectionError("idle connection failed its ping")


def _sqlite_engine(url: str, *, read_only: bool, busy_timeout_ms: int) -> Engine:
    engine = create_engine(
        url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # SQLite has no row locks: every unit of work that may write takes the write lock when it
        # starts, so a read-then-write can never be overtaken by another writer (no lost update,
        # no oversell). Readers take a snapshot and never wait for writers (WAL).
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
