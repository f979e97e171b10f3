"""The events that leave the service, as docs/asyncapi.yaml describes them to their consumers.

A unit of work turns the events of a transaction into messages and writes them to the outbox in
that same transaction; the relay publishes them afterwards. Which events leave, under which type
(the routing key), and what their data is, is decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shop.application import representations
from shop.domain.events import (
    Event,
    OrderCancelled,
    OrderFulfilled,
    OrderPlaced,
    ProductChanged,
    ProductCreated,
    ProductDeleted,
    UserRegistered,
    WebhookDisabled,
)
from shop.domain.orders import Order
from shop.domain.products import Product
from shop.domain.users import User
from shop.domain.webhooks import WebhookEndpoint


@dataclass(frozen=True, slots=True)
class Message:
    """An event on its way out: `type` is its routing key, `data` the resource as the API shows it."""

    type: str
    aggregate_type: str
    aggregate_id: int
    occurred_at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A message as the outbox keeps it: its position (commit order within an aggregate), its id (the
    message_id consumers deduplicate by, the same on every redelivery) and its body, ready to send;
    aggregate names what it is about ("order:12"); trace_context the W3C Trace Context headers of the
    request that made it (empty without tracing), which its publish and its webhooks carry on."""

    position: int
    id: str
    type: str
    occurred_at: datetime
    body: bytes
    aggregate: str = ""
    trace_context: Mapping[str, str] = field(default_factory=dict)


# Each event that leaves the service, and its type: the routing key and the body's "type".
TYPES: Mapping[type[Event], str] = {
    OrderPlaced: "order.placed",
    OrderCancelled: "order.cancelled",
    OrderFulfilled: "order.fulfilled",
    ProductCreated: "product.created",
    ProductChanged: "product.changed",
    ProductDeleted: "product.deleted",
    UserRegistered: "user.registered",
    WebhookDisabled: "webhook.disabled",
}
# Sent to webhook endpoints only, never through the outbox: a manager's test of one endpoint.
PING = "webhook.ping"
# What an endpoint may subscribe to: every type docs/asyncapi.yaml names.
WEBHOOK_TYPES = frozenset({*TYPES.values(), PING})


def envelope(message: Message, event_id: str) -> dict[str, Any]:
    """The body of a message as consumers receive it; event_id is also its AMQP message_id."""
    return {
        "id": event_id,
        "type": message.type,
        "occurred_at": message.occurred_at.isoformat(),
        "aggregate_id": message.aggregate_id,
        "data": dict(message.data),
    }


def aggregate_key(aggregate_type: str, aggregate_id: int) -> str:
    return f"{aggregate_type}:{aggregate_id}"


def outgoing(events: Iterable[Event]) -> list[Message]:
    """The messages of the events that leave the service, in the order the events happened."""
    return [_message(event, TYPES[type(event)]) for event in events if type(event) in TYPES]


def _message(event: Event, kind: str) -> Message:
    aggregate: Order | Product | User | WebhookEndpoint
    data: Mapping[str, Any]
    match event:
        case OrderPlaced(order=aggregate) | OrderCancelled(order=aggregate) | OrderFulfilled(order=aggregate):
            data = representations.order_once(aggregate)  # the rendering its use case answers too
        case ProductCreated(product=aggregate) | ProductChanged(product=aggregate) | ProductDeleted(product=aggregate):
            data = representations.product(aggregate)
        case UserRegistered(user=aggregate):
            data = representations.user_summary(aggregate)  # never the password hash or contact details
        case WebhookDisabled(endpoint=aggregate, reason=reason):
            data = {**representations.webhook_summary(aggregate), "reason": reason}  # never its secret
        case _:
            raise TypeError(f"{type(event).__name__} does not leave the service")
    assert aggregate.id is not None, "events are sent for stored aggregates only"
    return Message(kind, kind.partition(".")[0], aggregate.id, event.occurred_at, data)
