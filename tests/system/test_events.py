"""Order events reach RabbitMQ through the outbox and `shop relay`, with real gunicorn, PostgreSQL and
RabbitMQ: nothing is lost while the broker is cut off or the relay is killed, each order's events
keep their order, and two relays at once send nothing twice."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
import pika
import pytest
import yaml
from sqlalchemy import Engine, create_engine, text

from shop.adapters.amqp import EXCHANGE, declare

from ..support import REPO
from .conftest import Instance, RelayProcess, RelayStarter, Starter
from .tcp_proxy import proxy_to

DRAIN_TIMEOUT_S = 60
BATCH = 200  # the relay's batch: the most a SIGKILL can make it send twice


class Consumer:
    """A queue of the test's own on the real broker, bound to every event, read at the end."""

    def __init__(self, broker_url: str) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        self._channel = self._connection.channel()
        declare(self._channel)
        self.queue = f"system-test-{uuid.uuid4()}"
        self._channel.queue_declare(self.queue, durable=True)
        self._channel.queue_bind(self.queue, EXCHANGE, routing_key="#")

    def drain(self) -> list[tuple[str, Any, dict[str, Any]]]:
        """(routing key, properties, body) of every message waiting, in arrival order."""
        received: list[tuple[str, Any, dict[str, Any]]] = []
        while True:
            method, properties, body = self._channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return received
            received.append((method.routing_key, properties, json.loads(body)))

    def close(self) -> None:
        self._channel.queue_delete(self.queue)
        self._connection.close()


@pytest.fixture
def consumer(broker_url: str) -> Iterator[Consumer]:
    made = Consumer(broker_url)
    yield made
    made.close()


class Outbox:
    """The outbox table, read directly."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def ids(self) -> list[str]:
        with self._engine.connect() as conn:
            return list(conn.execute(text("SELECT event_id FROM outbox ORDER BY position")).scalars())

    def pending(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar_one())

    def wait_drained(self) -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while self.pending():
            assert time.monotonic() < deadline, f"{self.pending()} events still pending after {DRAIN_TIMEOUT_S}s"
            time.sleep(0.2)
        time.sleep(0.5)  # the broker routes a confirmed message to the queue at once; a margin all the same


@pytest.fixture
def outbox(pg_url: str) -> Iterator[Outbox]:
    engine = create_engine(pg_url)
    yield Outbox(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def validators() -> dict[str, jsonschema.Draft7Validator]:
    document = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text())
    return {
        message["name"]: jsonschema.Draft7Validator(
            {"$ref": f"#/components/messages/{key}/payload", "components": document["components"]},
            format_checker=jsonschema.FormatChecker(),
        )
        for key, message in document["components"]["messages"].items()
    }


def shop(start: Starter) -> tuple[Instance, str, list[str], list[int]]:
    """An instance, a manager token, customers' tokens and products with plenty of stock."""
    (api,) = start(1, WEB_CONCURRENCY="4")
    manager = api.manager("boss")
    customers = [api.customer(f"customer{n}") for n in range(4)]
    products = [api.product(manager, f"Product {n}", stock=100_000) for n in range(5)]
    return api, manager, customers, products


def order_events(received: list[tuple[str, Any, dict[str, Any]]]) -> dict[int, list[str]]:
    """Each order's event types, in the order they first arrived (a duplicate adds nothing)."""
    seen: set[str] = set()
    by_order: dict[int, list[str]] = defaultdict(list)
    for routing_key, _properties, body in received:
        if body["id"] in seen:
            continue
        seen.add(body["id"])
        if routing_key.startswith("order."):
            by_order[body["aggregate_id"]].append(routing_key)
    return by_order


def test_a_thousand_orders_survive_a_cut_broker_and_a_killed_relay(
    start: Starter,
    start_relay: RelayStarter,
    consumer: Consumer,
    outbox: Outbox,
    validators: dict[str, jsonschema.Draft7Validator],
    broker_url: str,
) -> None:
    api, _manager, customers, products = shop(start)
    with proxy_to("127.0.0.1", 5672) as proxy:
        through_proxy = broker_url.replace("127.0.0.1:5672", f"127.0.0.1:{proxy.port}")
        relays: list[RelayProcess] = [start_relay(through_proxy)]
        placed: list[int] = []
        lock = threading.Lock()

        def order(n: int) -> None:
            token = customers[n % len(customers)]
            body = {"items": [{"product": products[n % len(products)], "quantity": 1}]}
            order_id = api.expect(201, "POST", "/orders/", body, token=token)["id"]
            if n % 3 == 0:  # a third are cancelled at once: their two events must arrive in that order
                api.expect(200, "POST", f"/orders/{order_id}/cancel/", token=token)
            with lock:
                placed.append(order_id)

        def disturb() -> None:
            """A quarter of the way: cut the broker off for 3 s; half way: SIGKILL the relay and start
            another; three quarters: cut again."""
            for share, action in ((250, "cut"), (500, "kill"), (750, "cut")):
                while len(placed) < share:
                    time.sleep(0.01)
                if action == "cut":
                    proxy.cut(3)
                else:
                    relays[-1].kill()
                    relays.append(start_relay(through_proxy))

        disturber = threading.Thread(target=disturb)
        disturber.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(order, range(1000)))
        disturber.join()
        outbox.wait_drained()

    received = consumer.drain()
    written = outbox.ids()
    arrivals = Counter(body["id"] for _key, _properties, body in received)
    assert len(placed) == 1000
    assert set(arrivals) == set(written), "every committed event arrives, and only those"
    duplicates = sum(count - 1 for count in arrivals.values())
    assert duplicates <= BATCH + proxy.cuts, f"{duplicates} duplicates: more than a killed batch and the cuts explain"
    for order_id, kinds in order_events(received).items():
        expected = ["order.placed", "order.cancelled"] if len(kinds) == 2 else ["order.placed"]
        assert kinds == expected, f"order {order_id}: {kinds}"
    assert sum(len(kinds) for kinds in order_events(received).values()) == 1000 + 334
    for routing_key, properties, body in received:
        validators[routing_key].validate(body)
        assert properties.message_id == body["id"]
        assert properties.delivery_mode == 2
        assert properties.content_type == "application/json"
    assert relays[-1].probe("/health/ready").status == 200
    print(f"\n{len(received)} messages for {len(written)} events: {duplicates} duplicates, {proxy.cuts} cuts, 1 kill")


def test_two_relays_at_once_send_each_event_once_and_one_takes_over_from_the_other(
    start: Starter, start_relay: RelayStarter, consumer: Consumer, outbox: Outbox, broker_url: str
) -> None:
    api, _manager, customers, products = shop(start)
    first, second = start_relay(broker_url), start_relay(broker_url)
    leaders = [json.loads(relay.probe("/health/ready").body)["leader"] for relay in (first, second)]
    assert sorted(leaders) == [False, True], "exactly one publishes, the other stands by (and is ready)"
    leader, standby = (first, second) if leaders[0] else (second, first)

    def order(n: int) -> None:
        body = {"items": [{"product": products[n % len(products)], "quantity": 1}]}
        api.expect(201, "POST", "/orders/", body, token=customers[n % len(customers)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(order, range(200)))
    outbox.wait_drained()
    assert leader.stop() == 0, "a SIGTERM stops the relay cleanly"
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(order, range(200, 300)))
    outbox.wait_drained()

    received = consumer.drain()
    arrivals = Counter(body["id"] for _key, _properties, body in received)
    assert set(arrivals) == set(outbox.ids())
    assert max(arrivals.values()) == 1, "no event was sent twice"
    assert json.loads(standby.probe("/health/ready").body)["leader"] is True
    metrics = standby.probe("/metrics").body.decode()
    assert 'shop_events_published_total{type="order.placed"}' in metrics


def test_a_new_event_is_noticed_within_a_second(
    start: Starter, start_relay: RelayStarter, consumer: Consumer, outbox: Outbox, broker_url: str
) -> None:
    api, manager, _customers, _products = shop(start)
    start_relay(broker_url)
    outbox.wait_drained()
    consumer.drain()

    placed_at = time.monotonic()
    api.product(manager, "Late arrival", stock=1)
    while not (received := consumer.drain()):
        assert time.monotonic() - placed_at < 3, "the relay did not notice the new event"
        time.sleep(0.02)

    assert [key for key, _properties, _body in received] == ["product.created"]
    assert time.monotonic() - placed_at < 1.0
