"""RabbitMQ through pika: the relay's publisher, and a consumer for people watching the events.

The contract (docs/asyncapi.yaml): a durable topic exchange `shop.events`; each message persistent,
`application/json`, routed by its type (`order.placed`...), its `message_id` the event id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from shop.adapters import tracing
from shop.adapters.tracing import TRACE_HEADERS
from shop.application.messages import OutboxEntry
from shop.application.ports.broker import PublishFailed

log = logging.getLogger(__name__)

EXCHANGE = "shop.events"
CONTENT_TYPE = "application/json"
# A broker that stops answering is noticed within two heartbeats, not TCP's minutes.
HEARTBEAT_S = 5
SOCKET_TIMEOUT_S = 5.0
# A broker refusing publishes (its memory or disk alarm) makes a publish fail after this long.
BLOCKED_TIMEOUT_S = 30.0


def parameters(url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.heartbeat = HEARTBEAT_S
    params.socket_timeout = SOCKET_TIMEOUT_S
    params.blocked_connection_timeout = BLOCKED_TIMEOUT_S
    params.connection_attempts = 1
    params.client_properties = {"connection_name": "shop"}
    return params


def declare(channel: BlockingChannel) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)


def properties(entry: OutboxEntry, headers: dict[str, str] | None = None) -> pika.BasicProperties:
    """headers: the message's trace context (`traceparent`, `tracestate`), when it has one."""
    return pika.BasicProperties(
        content_type=CONTENT_TYPE,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=entry.id,
        type=entry.type,
        timestamp=int(entry.occurred_at.timestamp()),
        app_id="shop",
        headers=headers or None,
    )


class AmqpPublisher:
    """Publishes with publisher confirms: publish() returns once the broker has the message (persisted,
    for a durable queue bound to the exchange). Connects on first use and after any failure."""

    def __init__(self, url: str) -> None:
        self._parameters = parameters(url)
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def publish(self, entry: OutboxEntry) -> None:
        try:
            channel = self._channel or self._connect()
            with tracing.publishing(EXCHANGE, entry.type, entry.id, entry.trace_context) as headers:
                channel.basic_publish(EXCHANGE, entry.type, entry.body, properties(entry, headers))
        except Exception as error:  # pika's own errors, and its I/O loop's when the network goes away
            self.close()
            raise PublishFailed(f"{type(error).__name__}: {error}") from error

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # a broken connection may fail to close in any way; it is dropped all the same
                log.debug("closing a broken broker connection", exc_info=True)

    def _connect(self) -> BlockingChannel:
        self._connection = pika.BlockingConnection(self._parameters)
        channel = self._connection.channel()
        declare(channel)
        channel.confirm_delivery()
        self._channel = channel
        return channel


def tail(
    url: str,
    pattern: str,
    on_message: Callable[[str, dict[str, Any], bytes], bool],
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Receive the events whose type matches the pattern (`#`, `order.*`...) on a queue of this call's
    own, deleted when it ends; on_ready() once it is bound, on_message(routing key, properties, body)
    for each event, which returns False to stop."""
    connection = pika.BlockingConnection(parameters(url))
    try:
        channel = connection.channel()
        declare(channel)
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(queue, EXCHANGE, routing_key=pattern)
        on_ready()
        for method, props, body in channel.consume(queue, auto_ack=True):
            shown = {"message_id": props.message_id, "type": props.type, "content_type": props.content_type}
            shown.update({name: str(value) for name, value in (props.headers or {}).items() if name in TRACE_HEADERS})
            if not on_message(method.routing_key, shown, body):
                break
    finally:
        if connection.is_open:
            connection.close()
