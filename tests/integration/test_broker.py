"""The AMQP publisher against the real RabbitMQ: what a consumer receives, and how failures surface."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from shop.adapters.amqp import EXCHANGE, AmqpPublisher, declare
from shop.application.messages import OutboxEntry
from shop.application.ports.broker import PublishFailed

OCCURRED = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def channel(broker_url: str) -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    declare(channel)
    yield channel
    connection.close()


@pytest.fixture
def queue(channel: BlockingChannel) -> str:
    """A queue of this test's own, bound to every event."""
    name = channel.queue_declare(f"test-{uuid.uuid4()}", exclusive=True).method.queue
    channel.queue_bind(name, EXCHANGE, routing_key="#")
    return str(name)


def entry(kind: str = "order.placed", position: int = 1) -> OutboxEntry:
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {"id": event_id, "type": kind, "occurred_at": OCCURRED.isoformat(), "aggregate_id": 7, "data": {}}
    )
    return OutboxEntry(position, event_id, kind, OCCURRED, body.encode())


def received(channel: BlockingChannel, queue: str) -> list[tuple[str, pika.BasicProperties, bytes]]:
    messages: list[tuple[str, pika.BasicProperties, bytes]] = []
    while True:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return messages
        messages.append((method.routing_key, properties, body))


def test_a_published_message_carries_the_contract(broker_url: str, channel: BlockingChannel, queue: str) -> None:
    publisher = AmqpPublisher(broker_url)
    sent = entry("product.changed")

    publisher.publish(sent)
    publisher.close()

    [(routing_key, properties, body)] = received(channel, queue)
    assert routing_key == "product.changed"
    assert body == sent.body
    assert properties.message_id == sent.id
    assert properties.content_type == "application/json"
    assert properties.delivery_mode == pika.DeliveryMode.Persistent.value
    assert properties.type == "product.changed"
    assert properties.timestamp == int(OCCURRED.timestamp())


def test_messages_arrive_in_the_order_they_were_published(
    broker_url: str, channel: BlockingChannel, queue: str
) -> None:
    publisher = AmqpPublisher(broker_url)
    sent = [entry(position=n) for n in range(20)]
    for one in sent:
        publisher.publish(one)
    publisher.close()

    assert [body for _key, _props, body in received(channel, queue)] == [one.body for one in sent]


def test_a_lost_connection_fails_one_publish_and_the_next_reconnects(
    broker_url: str, channel: BlockingChannel, queue: str
) -> None:
    publisher = AmqpPublisher(broker_url)
    publisher.publish(entry())
    assert publisher._connection is not None
    publisher._connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)  # the network goes away under it

    with pytest.raises(PublishFailed):
        publisher.publish(entry())
    publisher.publish(entry())
    publisher.close()

    assert len(received(channel, queue)) == 2


def test_an_unreachable_broker_fails_fast() -> None:
    publisher = AmqpPublisher("amqp://guest:guest@127.0.0.1:1/%2F")
    with pytest.raises(PublishFailed):
        publisher.publish(entry())
