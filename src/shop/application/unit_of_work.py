"""What every unit of work does with events, whatever stores its data."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from shop.application.messagebus import MessageBus
from shop.application.messages import outgoing
from shop.application.ports.outbox import OutboxRepository
from shop.domain.events import Event


class Aggregate(Protocol):
    events: list[Event]


class EventCollector:
    """The events of one transaction, in the order they happened. Repositories give it the events of
    each aggregate they save, so an aggregate changed but never saved tells nothing, as it stores nothing."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def take_events(self, aggregate: Aggregate) -> None:
        self.events.extend(aggregate.events)
        aggregate.events.clear()


class EventfulUnitOfWork(ABC):
    """commit(): the outbox rows of the events that leave the service go into the transaction, the
    transaction commits, then the bus handles every event. rollback() forgets them all."""

    outbox: OutboxRepository

    def __init__(self, bus: MessageBus | None = None) -> None:
        self._bus = bus or MessageBus()
        self._collector = EventCollector()

    def record(self, event: Event) -> None:
        self._collector.events.append(event)

    def commit(self) -> None:
        messages = outgoing(self._collector.events)
        if messages:
            self.outbox.add(messages)
        self._commit()
        events, self._collector.events = self._collector.events, []
        self._bus.publish(events)

    def rollback(self) -> None:
        self._collector.events.clear()
        self._rollback()

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...
