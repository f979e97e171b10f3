"""Idempotency keys in SQL: claimed by the first statement of the order's transaction, answered by one
of its last."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shop.adapters.encoding import decoded, encoded
from shop.adapters.sql.connection import LazyConnection, psycopg_sql
from shop.adapters.sql.tables import idempotency_keys
from shop.application.ports.idempotency import StoredPlacement

# The status column tells a kept answer (non-zero) from a claim (0). Releases before the outbox stored
# the HTTP status there and replay it: they must keep reading 201.
PLACED = 201
CLAIMED = 0
_KEY = (idempotency_keys.c.user_id == bindparam("owner"), idempotency_keys.c.key == bindparam("owner_key"))


def _claim(insert: Any) -> Any:
    """Insert the key's row, or take over one older than stale_before; a row is returned when the key
    is ours. A concurrent claim's uncommitted row is waited for by the unique index."""
    claim = insert(idempotency_keys).values(status=CLAIMED, body="")  # the other columns: as executed
    return claim.on_conflict_do_update(
        index_elements=[idempotency_keys.c.user_id, idempotency_keys.c.key],
        set_={
            "fingerprint": claim.excluded.fingerprint,
            "status": CLAIMED,
            "body": "",
            "created_at": claim.excluded.created_at,
        },
        where=idempotency_keys.c.created_at < bindparam("stale_before"),
    ).returning(idempotency_keys.c.user_id)


_CLAIM = {"postgresql": _claim(postgresql.insert), "sqlite": _claim(sqlite.insert)}
_GET = select(idempotency_keys).where(*_KEY)
_KEEP = update(idempotency_keys).where(*_KEY).values(status=literal_column(str(PLACED)), body=bindparam("answer"))
# PostgreSQL: sent with the COMMIT (connection.py), in psycopg's own parameter style.
_KEEP_PG = psycopg_sql(_KEEP)


class SqlIdempotencyRepository:
    def __init__(self, conn: LazyConnection) -> None:
        self._conn = conn

    def claim(self, placement: StoredPlacement, stale_before: datetime) -> StoredPlacement | None:
        values = {
            "user_id": placement.user_id,
            "key": placement.key,
            "fingerprint": placement.fingerprint,
            "created_at": placement.created_at,
            "stale_before": stale_before,
        }
        if self._conn.execute(_CLAIM[self._conn.dialect.name], values).first() is not None:
            return None
        return self.get(placement.user_id, placement.key)

    def keep(self, placement: StoredPlacement) -> None:
        assert placement.order is not None
        values = {"owner": placement.user_id, "owner_key": placement.key, "answer": encoded(placement.order).decode()}
        if self._conn.defers:
            self._conn.defer(_KEEP_PG, values)
        else:
            self._conn.execute(_KEEP, values)

    def get(self, user_id: int, key: str) -> StoredPlacement | None:
        row = self._conn.execute(_GET, {"owner": user_id, "owner_key": key}).first()
        if row is None:
            return None
        order = decoded(row.body.encode()) if row.status else None
        return StoredPlacement(row.user_id, row.key, row.fingerprint, row.created_at, order)

    def delete(self, user_id: int, key: str) -> None:
        self._conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        )

    def purge_older_than(self, moment: datetime) -> int:
        return self._conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < moment)).rowcount
