"""Idempotency keys in SQL."""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.connection import LazyConnection
from shop.adapters.sql.tables import idempotency_keys
from shop.application.errors import KeyInUse
from shop.application.ports.idempotency import StoredPlacement

# The status column tells a finished placement (non-zero) from one still running (0). Releases before
# the outbox stored the HTTP status there and replay it: they must keep reading 201.
PLACED = 201


_KEEP_KEY = """
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
VALUES (%(user_id)s, %(key)s, %(fingerprint)s, %(status)s, %(body)s, %(created_at)s)
"""


class SqlIdempotencyRepository:
    def __init__(self, conn: LazyConnection) -> None:
        self._conn = conn

    def get(self, user_id: int, key: str) -> StoredPlacement | None:
        where = (idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        row = self._conn.execute(select(idempotency_keys).where(*where)).first()
        if row is None:
            return None
        order = orjson.loads(row.body) if row.status else None
        return StoredPlacement(row.user_id, row.key, row.fingerprint, row.created_at, order)

    def keep(self, placement: StoredPlacement) -> None:
        values = {
            "user_id": placement.user_id,
            "key": placement.key,
            "fingerprint": placement.fingerprint,
            "status": PLACED,
            "body": orjson.dumps(placement.order).decode(),
            "created_at": placement.created_at,
        }
        if self._conn.defers:
            # With the COMMIT: a concurrent holder of the key is waited for there (the unique index).
            self._conn.defer(_KEEP_KEY, values)
            return
        try:
            self._conn.execute(insert(idempotency_keys), values)
        except IntegrityError:
            raise KeyInUse() from None

    def delete(self, user_id: int, key: str) -> None:
        self._conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        )

    def purge_older_than(self, moment: datetime) -> int:
        return self._conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < moment)).rowcount
