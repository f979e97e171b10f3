"""The relay: publishes the outbox's messages to the broker, in the order they were committed, and
marks each one sent once the broker has confirmed it.

Delivery is at least once: a relay that dies between the broker's confirmation and the mark sends
that message again after its restart, with the same id, and consumers deduplicate by it. Only one
relay publishes at a time (`Leadership`); the others wait to take over, so the messages of one
aggregate leave in the order they were committed even with several relays running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum

from shop.application.messages import OutboxEntry
from shop.application.outages import OutageLog
from shop.application.ports.broker import Leadership, Publisher
from shop.application.ports.outbox import Backlog
from shop.application.ports.services import Clock
from shop.application.ports.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def relay_batch(
    *,
    uow: UnitOfWork,
    publisher: Publisher,
    clock: Clock,
    limit: int,
    on_published: Callable[[Sequence[OutboxEntry]], None] = lambda _entries: None,
) -> list[OutboxEntry]:
    """Publish up to `limit` of the oldest pending messages, one after the other, and mark the ones the
    broker confirmed as sent, even when a later one failed (then PublishFailed is raised after)."""
    with uow:
        batch = uow.outbox.pending(limit)
    confirmed: list[OutboxEntry] = []
    try:
        for entry in batch:
            publisher.publish(entry)
            confirmed.append(entry)
    finally:
        if confirmed:
            with uow:
                uow.outbox.mark_sent([entry.position for entry in confirmed], clock.now())
                uow.commit()
            on_published(confirmed)
    return confirmed


def outbox_backlog(*, uow: UnitOfWork) -> Backlog:
    with uow:
        return uow.outbox.backlog()


def purge_sent_messages(*, uow: UnitOfWork, clock: Clock, retention: timedelta) -> int:
    """Forget the messages sent longer ago than the retention; pending ones stay, however old."""
    with uow:
        count = uow.outbox.purge_sent_before(clock.now() - retention)
        uow.commit()
    return count


class Round(Enum):
    BUSY = "a full batch went out: go on at once"
    IDLE = "nothing more to send: look again shortly"
    STANDBY = "another relay publishes: stand by to take over"
    FAILED = "the database or the broker failed: back off"


@dataclass(frozen=True, slots=True)
class RelaySettings:
    batch_size: int = 200
    idle_wait_s: float = 0.2  # how long a new message may wait before it is noticed
    standby_wait_s: float = 1.0  # how long a relay standing by takes to notice the leader is gone
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0


@dataclass
class RelayStatus:
    """What the relay's probes and metrics report."""

    leader: bool = False
    last_success: float | None = None  # monotonic time of the last round that reached database and broker
    last_round: float = field(default_factory=time.monotonic)
    problem: str | None = None


class Relay:
    """The relay's loop: runs until `stop` is asked, waiting through `wait` (which returns True once
    the relay must stop) so that a stop request ends any wait at once."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        publisher: Publisher,
        leadership: Leadership,
        clock: Clock,
        wait: Callable[[float], bool],
        settings: RelaySettings = RelaySettings(),
        on_published: Callable[[Sequence[OutboxEntry]], None] = lambda _entries: None,
    ) -> None:
        self._uow = uow
        self._publisher = publisher
        self._leadership = leadership
        self._clock = clock
        self._wait = wait
        self._settings = settings
        self._on_published = on_published
        self.status = RelayStatus()
        self._outage = OutageLog(log, "relay: publishing failed, retrying with backoff")

    def run(self) -> None:
        settings = self._settings
        backoff = settings.backoff_initial_s
        try:
            while True:
                outcome = self._round()
                if outcome is Round.FAILED:
                    pause, backoff = backoff, min(backoff * 2, settings.backoff_max_s)
                else:
                    backoff = settings.backoff_initial_s
                    pause = {Round.BUSY: 0.0, Round.IDLE: settings.idle_wait_s, Round.STANDBY: settings.standby_wait_s}[
                        outcome
                    ]
                if self._wait(pause):
                    return
        finally:
            self._publisher.close()
            self._leadership.release()

    def _round(self) -> Round:
        settings = self._settings
        self.status.last_round = time.monotonic()
        try:
            self.status.leader = self._leadership.hold()
            if not self.status.leader:
                self._recovered()
                return Round.STANDBY
            sent = relay_batch(
                uow=self._uow(),
                publisher=self._publisher,
                clock=self._clock,
                limit=settings.batch_size,
                on_published=self._on_published,
            )
        except Exception as error:  # the database or the broker: any failure is retried after a pause
            self._failed(error)
            return Round.FAILED
        self._recovered()
        return Round.BUSY if len(sent) == settings.batch_size else Round.IDLE

    def _failed(self, error: Exception) -> None:
        self._publisher.close()  # whatever failed, the next round starts on a fresh connection
        self.status.problem = f"{type(error).__name__}: {error}"
        self._outage.failed(error)

    def _recovered(self) -> None:
        self._outage.recovered()
        self.status.problem = None
        self.status.last_success = time.monotonic()
