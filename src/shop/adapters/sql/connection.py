"""A unit of work's connection: taken from the pool at its first statement, and on PostgreSQL able to
send the transaction's last writes together with its COMMIT, in one round trip.

Why the last part: a row lock is held from the statement that takes it until COMMIT. Every round
trip to the client in between, and every line of Python the client runs meanwhile (on a machine
where it waits for a CPU), is paid by every other transaction wanting that row: on a product that
sells fast, that is the order rate. Writes deferred with `defer()` go out with COMMIT through
psycopg's pipeline mode, so the database runs them and commits without waiting for us.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.errors
from sqlalchemy import ClauseElement, Connection, CursorResult, Engine, Executable, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shop.adapters.sql.engine import READS_ONLY
from shop.application.errors import Busy, OutcomeUnknown

_PSYCOPG = PGDialect_psycopg()  # type: ignore[no-untyped-call]
LOCKED = "What this request changes is locked by another transaction; nothing was changed. Retry shortly."


@dataclass(frozen=True, slots=True)
class Deferred:
    sql: str  # in psycopg's own parameter style
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    many: bool = False


def psycopg_sql(statement: ClauseElement, **compile_options: Any) -> str:
    """A Core statement in psycopg's own parameter style, for defer(): one statement, written once,
    for SQLite (executed) and PostgreSQL (sent with the COMMIT)."""
    return str(statement.compile(dialect=_PSYCOPG, **compile_options))


class LazyConnection:
    """lock_timeout_ms: how long this unit of work's statements may wait for a row lock (PostgreSQL's
    lock_timeout, SQLite's busy timeout) before Busy is raised; None: the engine's statement deadline."""

    def __init__(
        self, engine: Engine, *, lock_timeout_ms: int | None = None, opener: Callable[[], Connection] | None = None
    ) -> None:
        """opener: opens the connection instead of engine.connect() (the read router's choice)."""
        self._engine = engine
        self._open = opener or engine.connect
        self._lock_timeout_ms = lock_timeout_ms
        self._busy_timeout_before: int | None = None
        self.opened: Connection | None = None
        self.deferred: list[Deferred] = []

    @property
    def dialect(self) -> Any:
        return self._engine.dialect

    @property
    def defers(self) -> bool:
        """True where writes can wait for the commit: PostgreSQL."""
        return bool(self._engine.dialect.name == "postgresql")

    def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        try:
            return self.connection().execute(statement, parameters)
        except OperationalError as error:
            if self._gave_up_waiting(error.orig):
                raise Busy(LOCKED) from None
            raise
        except DBAPIError as error:
            if self.opened is not None and error.orig is not None and self._not_writable_yet(self.opened, error.orig):
                raise OperationalError(error.statement, None, error.orig, connection_invalidated=True) from None
            raise

    def defer(
        self, sql: str, parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, many: bool = False
    ) -> None:
        self.deferred.append(Deferred(sql, parameters, many))

    def connection(self) -> Connection:
        if self.opened is None:
            self.opened = self._open()
            if self._lock_timeout_ms is not None:
                self._bound_lock_waits(self.opened, self._lock_timeout_ms)
        return self.opened

    def commit(self) -> None:
        """Send what was deferred, then COMMIT, in one round trip; translate what the database refused."""
        if not self.deferred:
            if self.opened is not None:
                try:
                    self.opened.commit()
                except OperationalError as error:
                    if error.connection_invalidated:
                        raise OutcomeUnknown() from error
                    raise
            return
        connection = self.connection()
        if not connection.in_transaction():
            connection.begin()  # what the engine sets at BEGIN (behind PgBouncer: the deadline) comes first
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        deferred, self.deferred = self.deferred, []
        try:
            with raw.pipeline(), raw.cursor() as cursor:
                for write in deferred:
                    if write.many:
                        cursor.executemany(write.sql, write.parameters)
                    else:
                        cursor.execute(write.sql, write.parameters)
                raw.commit()
        except psycopg.Error as error:
            raise self._refused(connection, raw, error) from None
        connection.commit()  # SQLAlchemy's own bookkeeping; the database has committed already

    def close(self) -> None:
        opened, self.opened = self.opened, None
        self.deferred.clear()
        if opened is None:
            return
        try:
            opened.rollback()
            if self._busy_timeout_before is not None:  # on the driver's connection: no BEGIN, no write lock
                _driver(opened).execute(f"PRAGMA busy_timeout = {self._busy_timeout_before}")
        finally:
            opened.close()

    def _bound_lock_waits(self, connection: Connection, timeout_ms: int) -> None:
        if self.defers:
            # For this transaction only (set_config's is_local): other units of work share the connection
            # later. Both settings: waiting for a row lock is two waits when others queue for it too (the
            # tuple's lock, then the locking transaction's), each under lock_timeout; the statement
            # deadline bounds the sum (docs/decisions.md, "Bounded lock waits").
            connection.execute(
                text("SELECT set_config('lock_timeout', :ms, true), set_config('statement_timeout', :ms, true)"),
                {"ms": f"{int(timeout_ms)}ms"},
            )
            return
        # SQLite: the wait is for the database's write lock, taken by BEGIN IMMEDIATE at the next
        # statement. busy_timeout belongs to the connection: put it back when the unit of work ends.
        raw = _driver(connection)
        self._busy_timeout_before = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
        raw.execute(f"PRAGMA busy_timeout = {min(int(timeout_ms), self._busy_timeout_before)}")

    def _not_writable_yet(self, connection: Connection, error: BaseException | None) -> bool:
        """A writer's statement refused as read-only: the server is a standby, or was a moment ago.
        The proxy in front sends connections to a node its checks call the primary; HAProxy counts
        every server up until its first checks, and Patroni calls a node the primary a moment before
        its recovery ends. The database can't take writes yet, as when it is down: the connection is
        dropped, never pooled again. Through the reader's own guard, the refusal is the bug it is."""
        if not isinstance(error, psycopg.errors.ReadOnlySqlTransaction):
            return False
        if self._engine.get_execution_options().get(READS_ONLY, False):
            return False
        connection.invalidate()
        return True

    def _gave_up_waiting(self, error: BaseException | None) -> bool:
        """A wait for a lock ended by this unit of work's timeout: PostgreSQL's lock_timeout or its
        statement deadline, SQLite's busy timeout for its write lock."""
        if isinstance(error, psycopg.errors.LockNotAvailable):
            return True
        if isinstance(error, psycopg.errors.QueryCanceled):
            return self._lock_timeout_ms is not None
        return isinstance(error, sqlite3.OperationalError) and "database is locked" in str(error)

    def _refused(self, connection: Connection, raw: psycopg.Connection[Any], error: psycopg.Error) -> Exception:
        """What a deferred write's failure means to the application; the transaction is rolled back."""
        broken = raw.broken or (isinstance(error, psycopg.OperationalError) and raw.closed)
        if broken:
            connection.invalidate()
            return OutcomeUnknown()  # sent together, the writes and COMMIT may all have been done, or none
        if self._not_writable_yet(connection, error):
            return OperationalError("COMMIT (pipelined)", None, error, connection_invalidated=True)
        try:
            raw.rollback()
        except psycopg.Error:  # the connection died with the COMMIT sent
            connection.invalidate()
            return OutcomeUnknown()
        if self._gave_up_waiting(error):
            return Busy(LOCKED)
        wrapper: type[DBAPIError] = DBAPIError
        if isinstance(error, psycopg.OperationalError):
            wrapper = OperationalError
        elif isinstance(error, psycopg.IntegrityError):  # as SQLAlchemy says it, as on SQLite
            wrapper = IntegrityError
        return wrapper("COMMIT (pipelined)", None, error)


def _driver(connection: Connection) -> Any:
    driver = connection.connection.driver_connection
    assert driver is not None
    return driver
