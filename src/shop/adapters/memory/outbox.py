from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from shop.adapters import tracing
from shop.adapters.encoding import body_of
from shop.adapters.memory.store import MemoryState, OutboxRow
from shop.application.messages import Message, OutboxEntry, aggregate_key
from shop.application.ports.outbox import Backlog


class MemoryOutboxRepository:
    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def add(self, messages: Sequence[Message]) -> None:
        state = self._state()
        trace_context = tracing.carrier()
        for message in messages:
            position, event_id = state.allocate("outbox"), str(uuid.uuid4())
            body = body_of(message, event_id)
            aggregate = aggregate_key(message.aggregate_type, message.aggregate_id)
            entry = OutboxEntry(position, event_id, message.type, message.occurred_at, body, aggregate, trace_context)
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
        state = self._state()
        webhooks_wait = any(endpoint.enabled for endpoint in state.webhooks.values())
        old = [
            position
            for position, row in state.outbox.items()
            if row.sent_at is not None and row.sent_at < moment and (row.fanned_out_at or not webhooks_wait)
        ]
        for position in old:
            del state.outbox[position]
        return len(old)

    def take_fan_out(self) -> bool:
        return True  # the store's lock serializes units of work

    def awaiting_webhooks(self, limit: int) -> list[OutboxEntry]:
        rows = (row for _, row in sorted(self._state().outbox.items()) if row.fanned_out_at is None)
        return [row.entry for row in itertools.islice(rows, limit)]

    def mark_fanned_out(self, positions: Sequence[int], now: datetime) -> None:
        outbox = self._state().outbox
        for position in positions:
            outbox[position].fanned_out_at = now

    def messages(self) -> list[Message]:
        """Every message written, sent or not, oldest first: what tests look at."""
        return [row.message for _, row in sorted(self._state().outbox.items())]
