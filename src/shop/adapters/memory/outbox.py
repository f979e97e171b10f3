from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import orjson

from shop.adapters.memory.store import MemoryState, OutboxRow
from shop.application.messages import Message, OutboxEntry, envelope
from shop.application.ports.outbox import Backlog


class MemoryOutboxRepository:
    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def add(self, messages: Sequence[Message]) -> None:
        state = self._state()
        for message in messages:
            position, event_id = state.allocate("outbox"), str(uuid.uuid4())
            body = orjson.dumps(envelope(message, event_id))
            entry = OutboxEntry(position, event_id, message.type, message.occurred_at, body)
            state.outbox[position] = OutboxRow(entry, message)

    def pending(self, limit: int) -> list[OutboxEntry]:
        rows = (row for _, row in sorted(self._state().outbox.items()) if row.sent_at is None)
        return [row.entry for row in itertools.islice(rows, limit)]

    def mark_sent(self, positions: Sequence[int], now: datetime) -> None:
        outbox = self._state().outbox
        for position in positions:
            outbox[position].sent_at = now

    def backlog(self) -> Backlog:
        pending = [row.entry.occurred_at for row in self._state().outbox.values() if row.sent_at is None]
        return Backlog(len(pending), min(pending, default=None))

    def purge_sent_before(self, moment: datetime) -> int:
        outbox = self._state().outbox
        old = [position for position, row in outbox.items() if row.sent_at is not None and row.sent_at < moment]
        for position in old:
            del outbox[position]
        return len(old)

    def messages(self) -> list[Message]:
        """Every message written, sent or not, oldest first: what tests look at."""
        return [row.message for _, row in sorted(self._state().outbox.items())]
