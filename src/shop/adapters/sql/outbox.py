"""The outbox in SQL: messages kept with the change they tell, until the relay sent them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, or_, select, text, update

from shop.adapters import tracing
from shop.adapters.encoding import body_of
from shop.adapters.sql.connection import LazyConnection, psycopg_sql
from shop.adapters.sql.tables import outbox, webhook_endpoints
from shop.application.messages import Message, OutboxEntry, aggregate_key
from shop.application.ports.outbox import Backlog

ADD_TO_OUTBOX = insert(outbox)
_MESSAGE_COLUMNS = ["event_id", "type", "aggregate_type", "aggregate_id", "occurred_at", "body", "trace_context"]
_ADD_TO_OUTBOX_PG = psycopg_sql(ADD_TO_OUTBOX, column_keys=_MESSAGE_COLUMNS, for_executemany=True)
_COLUMNS = (
    outbox.c.position,
    outbox.c.event_id,
    outbox.c.type,
    outbox.c.occurred_at,
    outbox.c.body,
    outbox.c.aggregate_type,
    outbox.c.aggregate_id,
    outbox.c.trace_context,
)
_PENDING = select(*_COLUMNS).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.position).limit(bindparam("limit"))
_AWAITING_WEBHOOKS = (
    select(*_COLUMNS).where(outbox.c.fanned_out_at.is_(None)).order_by(outbox.c.position).limit(bindparam("limit"))
)
# pg_try_advisory_xact_lock's key, held until the transaction ends: "shop" + "hook".
FAN_OUT_LOCK_KEY = 0x73686F70686F6F6B


class SqlOutboxRepository:
    def __init__(self, conn: LazyConnection) -> None:
        self._conn = conn

    def add(self, messages: Sequence[Message]) -> None:
        rows = []
        trace_context = tracing.encode(tracing.carrier())
        for message in messages:
            event_id = str(uuid.uuid4())
            rows.append(
                {
                    "event_id": event_id,
                    "type": message.type,
                    "aggregate_type": message.aggregate_type,
                    "aggregate_id": message.aggregate_id,
                    "occurred_at": message.occurred_at,
                    "body": body_of(message, event_id).decode(),
                    "trace_context": trace_context,
                }
            )
        if self._conn.defers:
            self._conn.defer(_ADD_TO_OUTBOX_PG, rows, many=True)
        else:
            self._conn.execute(ADD_TO_OUTBOX, rows)

    def pending(self, limit: int) -> list[OutboxEntry]:
        return self._entries(_PENDING, limit)

    def _entries(self, query: Any, limit: int) -> list[OutboxEntry]:
        return [
            OutboxEntry(
                row.position,
                row.event_id,
                row.type,
                row.occurred_at,
                row.body.encode(),
                aggregate_key(row.aggregate_type, row.aggregate_id),
                tracing.decode(row.trace_context),
            )
            for row in self._conn.execute(query, {"limit": limit})
        ]

    def mark_sent(self, positions: Sequence[int], now: datetime) -> None:
        if positions:
            self._conn.execute(update(outbox).where(outbox.c.position.in_(positions)).values(sent_at=now))

    def backlog(self) -> Backlog:
        pending = self._conn.execute(
            select(func.count().label("waiting"), func.min(outbox.c.occurred_at).label("oldest")).where(
                outbox.c.sent_at.is_(None)
            )
        ).one()
        return Backlog(pending.waiting, pending.oldest)

    def purge_sent_before(self, moment: datetime) -> int:
        no_webhook_waits = ~exists().where(webhook_endpoints.c.enabled)
        statement = delete(outbox).where(
            outbox.c.sent_at.is_not(None),
            outbox.c.sent_at < moment,
            or_(outbox.c.fanned_out_at.is_not(None), no_webhook_waits),
        )
        return self._conn.execute(statement).rowcount

    def take_fan_out(self) -> bool:
        if self._conn.dialect.name != "postgresql":
            return True  # SQLite: the unit of work holds the write lock (BEGIN IMMEDIATE)
        taken = self._conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FAN_OUT_LOCK_KEY})
        return bool(taken.scalar())

    def awaiting_webhooks(self, limit: int) -> list[OutboxEntry]:
        return self._entries(_AWAITING_WEBHOOKS, limit)

    def mark_fanned_out(self, positions: Sequence[int], now: datetime) -> None:
        if positions:
            self._conn.execute(update(outbox).where(outbox.c.position.in_(positions)).values(fanned_out_at=now))
