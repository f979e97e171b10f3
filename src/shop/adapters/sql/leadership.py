"""Which relay publishes: the one holding a lock that only one process can hold at a time.

PostgreSQL: a session-level advisory lock on a connection kept for it alone. The lock lives exactly
as long as that session: a relay that dies, or loses its connection, loses the lock with it, and a
relay standing by takes it within a second. Behind PgBouncer in transaction pooling there is no
session to hold it (the lock would stay on whichever server connection took it, held for nobody), so
the lock connects to PostgreSQL directly: RELAY_DATABASE_URL. SQLite (one machine by nature): an
exclusive lock on a file next to the database, released by the kernel when the process dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# pg_try_advisory_lock's key: any 64-bit number the other users of the database don't use. "shop" + "relay".
RELAY_LOCK_KEY = 0x73686F7072656C61


class AdvisoryLock:
    def __init__(self, url: str, key: int = RELAY_LOCK_KEY) -> None:
        self.url = url
        # Its own engine without a pool: this one connection must never be swapped for another.
        self._engine: Engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._key = key
        self._connection: Connection | None = None

    def hold(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True  # the session is alive, so is its lock
            except SQLAlchemyError:
                log.warning("relay: lost the connection that held the relay lock")
                self.release()
        connection = self._engine.connect()
        try:
            held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}).scalar())
        except BaseException:
            connection.close()
            raise
        if not held:
            connection.close()
            return False
        log.info("relay: this relay now publishes (it holds the relay lock)")
        self._connection = connection
        return True

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.close()  # ends the session, and the lock with it
        except SQLAlchemyError:
            log.debug("closing a broken connection", exc_info=True)


class FileLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def hold(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        log.info("relay: this relay now publishes (it holds %s)", self._path)
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def relay_leadership(url: str, *, pooler: str = "", direct_url: str = "") -> AdvisoryLock | FileLock:
    """url: DATABASE_URL; direct_url: RELAY_DATABASE_URL, a session straight to PostgreSQL, needed
    when a pooler stands in between."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return FileLock(Path(f"{parsed.database}.relay.lock"))
    if pooler and not direct_url:
        raise ValueError(f"behind {pooler} the relay lock needs RELAY_DATABASE_URL, a direct connection")
    return AdvisoryLock(direct_url or url)
