"""The message bus: runs the handler of each command, and hands each event to the handlers of its type.

Entrypoints `handle(command)` and get what its handler answers; application/handlers.py says which
handler serves which command and event, and shop/bootstrap.py binds their dependencies once.
Events of changes reach the bus from a unit of work once the change is committed; refusals (a
failed login, an order refused for stock) from the use case that refused. Event handlers do what
must follow an event inside this service: forget cached reads, count for the operators. What leaves
the service goes through the outbox, written in the transaction itself (see unit_of_work.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from shop.domain.events import Event

if TYPE_CHECKING:
    from shop.application.commands import Command

log = logging.getLogger(__name__)

R = TypeVar("R")
Handler = Callable[[Any], None]
CommandHandler = Callable[[Any], Any]


class MessageBus:
    def __init__(
        self,
        handlers: Mapping[type[Event], Sequence[Handler]] | None = None,
        commands: Mapping[type[Command[Any]], CommandHandler] | None = None,
    ) -> None:
        self._handlers = {kind: tuple(found) for kind, found in (handlers or {}).items()}
        self.commands: dict[type[Command[Any]], CommandHandler] = dict(commands or {})

    def handle(self, command: Command[R]) -> R:
        """Run the command's handler; its answer, or the application error it raised."""
        result: R = self.commands[type(command)](command)
        return result

    def publish(self, events: Iterable[Event]) -> None:
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
