"""Builds the message bus: every handler of application/handlers.py bound to its dependencies, once.

A use case names what it needs as keyword parameters (`uow`, `clock`, `hasher`, ...); each is taken
from `dependencies`, factories called on every command, so a unit of work is made per command and a
test's override of a provider holds. The command's fields fill the other parameters. A view
(application/views.py) takes its query whole, its adapters bound once with functools.partial, so
a cached read runs no code of this module. A `Query` gets the read-only unit of work (`reader`;
`lagging_reader` for those that may lag, MAY_LAG); the order commands the one that waits a bounded
time for row locks (`order_uow`); every other command the plain one (`uow`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from functools import partial
from typing import Any

from shop.application import commands as c
from shop.application.handlers import COMMAND_HANDLERS, EVENT_HANDLERS
from shop.application.messagebus import CommandHandler, Handler, MessageBus
from shop.application.ports.caches import ViewCache
from shop.application.ports.services import Metrics
from shop.domain.events import Event

Factory = Callable[[], Any]

# Orders wait at most ORDER_LOCK_TIMEOUT_MS for their products' row locks, then answer 503: a product
# locked for long (a manual UPDATE, a batch) must not hold every worker with it.
LOCKING_ROWS: frozenset[type[c.Command[Any]]] = frozenset({c.PlaceOrder, c.CancelOrder, c.FulfilOrder})
# Two use cases keep things for a `retention`; which one is a setting of its own.
# Queries whose reads may lag (issue 19): a replica's, under the read router's rule, when one is
# configured (`lagging_reader`): the console's lists and overview, user pages. Every other query reads
# the primary: token standing, webhooks, the relay's, and the two a manager acts on next, one order
# (as the API's order page, FRESH) and one product (the edit form, re-read after a conflict).
MAY_LAG: frozenset[type[c.Command[Any]]] = frozenset(
    {c.ListUsers, c.GetUser, c.ShowOverview, c.ListProducts, c.ListOrders, c.Usernames}
)
RENAMED: Mapping[tuple[type[c.Command[Any]], str], str] = {
    (c.PurgeSentMessages, "retention"): "outbox_retention",
    (c.PurgeWebhookLog, "retention"): "webhook_log_retention",
}


def bootstrap(
    dependencies: Mapping[str, Factory],
    *,
    events: Mapping[type[Event], Sequence[Handler]] | None = None,
    bus: MessageBus | None = None,
) -> MessageBus:
    """The bus with every command handler bound; `bus` (a test's recording one) gets them if given."""
    bus = bus if bus is not None else MessageBus(events)
    available = {**dependencies, "bus": lambda: bus}
    bus.commands.update({kind: _bind(kind, handler, available) for kind, handler in COMMAND_HANDLERS.items()})
    return bus


def _bind(
    kind: type[c.Command[Any]], handler: Callable[..., Any], dependencies: Mapping[str, Factory]
) -> CommandHandler:
    """A handler of one command: its fields and the dependencies its use case names, checked now."""
    parameters = inspect.signature(handler).parameters
    whole, *adapters = parameters.values()
    if whole.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:  # a view: its adapters live as long as the process
        return partial(handler, **{adapter.name: dependencies[adapter.name]() for adapter in adapters})
    carried = tuple(field.name for field in fields(kind))  # type: ignore[arg-type]
    if missing := [name for name in carried if name not in parameters]:
        raise TypeError(f"{handler.__name__} takes no {missing} of {kind.__name__}")
    needed: list[tuple[str, Factory]] = []
    for name, parameter in parameters.items():
        if name in carried:
            continue
        source = _source(kind, name)
        if source in dependencies:
            needed.append((name, dependencies[source]))
        elif parameter.default is inspect.Parameter.empty:
            raise TypeError(f"{handler.__name__} needs {name!r}, which the bootstrap has not")

    def run(command: c.Command[Any]) -> Any:
        given = {name: getattr(command, name) for name in carried}
        for name, factory in needed:
            given[name] = factory()
        return handler(**given)

    run.__name__ = handler.__name__
    return run


def _source(kind: type[c.Command[Any]], name: str) -> str:
    if name == "uow":
        if issubclass(kind, c.Query):
            return "lagging_reader" if kind in MAY_LAG else "reader"
        return "order_uow" if kind in LOCKING_ROWS else "uow"
    return RENAMED.get((kind, name), name)


def event_handlers(*, metrics: Metrics, cache: ViewCache | None = None) -> dict[type[Event], list[Handler]]:
    """EVENT_HANDLERS bound to this process's adapters; a handler of a cache not configured is left out."""
    available: dict[str, object] = {"metrics": metrics, "cache": cache}
    bound: dict[type[Event], list[Handler]] = {}
    for kind, handlers in EVENT_HANDLERS.items():
        for handler in handlers:
            names = [name for name in inspect.signature(handler).parameters if name in available]
            if all(available[name] is not None for name in names):
                bound.setdefault(kind, []).append(partial(handler, **{name: available[name] for name in names}))
    return bound
