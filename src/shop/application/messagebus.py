"""The message bus: hands each event to the handlers registered for its type.

Events of changes reach it from a unit of work once the change is committed; refusals (a failed
login, an order refused for stock) from the use case that refused. Handlers do what must follow an
event inside this service: forget cached reads, count for the operators. What leaves the service
goes through the outbox, written in the transaction itself (see unit_of_work.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from shop.domain.events import Event

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class MessageBus:
    def __init__(self, handlers: Mapping[type[Event], Sequence[Handler]] | None = None) -> None:
        self._handlers = {kind: tuple(found) for kind, found in (handlers or {}).items()}

    def handle(self, events: Iterable[Event]) -> None:
        """Every handler of every event, in order. A failing handler is logged and the others still run:
        the change it follows is committed, and answering its client with an error would only make
        the client retry a change that is already made."""
        for event in events:
            for handler in self._handlers.get(type(event), ()):
                try:
                    handler(event)
                except Exception:
                    log.exception(
                        "handler %s failed on %s", getattr(handler, "__name__", handler), type(event).__name__
                    )
