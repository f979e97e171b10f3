"""Attempts counted in the database: shared by every worker and every instance on it.

Each take is one short transaction of its own. On PostgreSQL, takes of one key queue on a
transaction-level advisory lock (a key that was never counted has no row to lock); on SQLite the
write lock every transaction starts with serializes them already.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select

from shop.adapters.sql.tables import attempts
from shop.application.ports.attempts import Limit, Refused, Taken

# The first half of pg_advisory_xact_lock(int, int): a space of its own, apart from the relay's lock.
LOCK_SPACE = 0x5A7E


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class SqlAttempts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def take(self, key: str, limit: Limit, now: datetime) -> Taken | Refused:
        stored = digest(key)
        of_key = attempts.c.key == stored
        with self._engine.begin() as conn:
            self._serialize(conn, stored)
            conn.execute(delete(attempts).where(of_key, attempts.c.expires_at <= now))
            live = conn.execute(select(attempts.c.expires_at).where(of_key).order_by(attempts.c.expires_at)).all()
            if len(live) >= limit.count:
                return Refused(live[len(live) - limit.count].expires_at - now)
            new_id = conn.execute(
                insert(attempts).values(key=stored, expires_at=now + limit.window).returning(attempts.c.id)
            ).scalar_one()
        return Taken(key, str(new_id))

    def refund(self, attempt: Taken) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(attempts).where(attempts.c.id == int(attempt.id)))

    def purge(self, now: datetime) -> int:
        with self._engine.begin() as conn:
            return conn.execute(delete(attempts).where(attempts.c.expires_at <= now)).rowcount

    @staticmethod
    def _serialize(conn: Connection, stored: str) -> None:
        if conn.dialect.name == "postgresql":
            slot = int.from_bytes(bytes.fromhex(stored[:8]), "big", signed=True)
            conn.execute(select(func.pg_advisory_xact_lock(LOCK_SPACE, slot)))
