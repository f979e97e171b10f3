"""Helpers shared by every suite: the use cases assembled over any unit of work, and a bus that records."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from dependency_injector import providers

from shop.application.messagebus import MessageBus
from shop.application.ports import UnitOfWork
from shop.container import Container
from shop.domain.events import Event

KEY_TTL = timedelta(hours=24)
REFRESH_TTL = timedelta(days=7)


class RecordingBus(MessageBus):
    """Keeps every event it is handed, in order, and runs the handlers it was given."""

    def __init__(self, handlers: Any = None) -> None:
        super().__init__(handlers)
        self.events: list[Event] = []

    def handle(self, events: Iterable[Event]) -> None:
        events = list(events)
        self.events.extend(events)
        super().handle(events)

    def of(self, kind: type[Event]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


def assembled(
    uow: Callable[[], UnitOfWork], *, clock: Any, bus: MessageBus, hasher: Any = None, ids: Any = None
) -> Container:
    """The service's own container, its use cases wired to the given unit of work and fakes, as the
    entrypoints get them: call `use.place_order(actor=..., items=...)`."""
    container = Container()
    container.config.from_dict({"idempotency_key_ttl": KEY_TTL, "refresh_token_ttl": REFRESH_TTL})
    container.uow.override(providers.Callable(uow))
    container.reader.override(providers.Callable(uow))
    container.clock.override(providers.Object(clock))
    container.bus.override(providers.Object(bus))
    if hasher is not None:
        container.hasher.override(providers.Object(hasher))
    if ids is not None:
        container.ids.override(providers.Object(ids))
    return container
