from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shop.application.messages import Message, OutboxEntry


@dataclass(frozen=True, slots=True)
class Backlog:
    """The messages still waiting in the outbox."""

    pending: int
    oldest: datetime | None  # when the oldest of them happened


class OutboxRepository(Protocol):
    def add(self, messages: Sequence[Message]) -> None:
        """Keep messages to send, in the transaction of the change they tell: a change rolled back
        leaves none, a committed one always has its messages. Each gets an id of its own."""

    def pending(self, limit: int) -> list[OutboxEntry]:
        """The oldest unsent messages, in the order they were written."""

    def mark_sent(self, positions: Sequence[int], now: datetime) -> None: ...

    def backlog(self) -> Backlog: ...

    def purge_sent_before(self, moment: datetime) -> int:
        """Forget the messages sent before moment; unsent ones are kept whatever their age, and so are
        those the webhooks have not fanned out yet while any webhook endpoint is enabled."""

    def take_fan_out(self) -> bool:
        """Whether this transaction may fan messages out to the webhooks: one at a time does."""

    def awaiting_webhooks(self, limit: int) -> list[OutboxEntry]:
        """The oldest messages not fanned out to the webhooks yet, in the order they were written."""

    def mark_fanned_out(self, positions: Sequence[int], now: datetime) -> None: ...
