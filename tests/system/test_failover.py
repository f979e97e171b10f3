"""The primary dies under load, three times in a row: etcd, two Patroni nodes in synchronous
replication and HAProxy in front (tests/system/patroni.py), the service (real gunicorn) and the relay
reaching the database through HAProxy.

Each time, the leader's postgres (every process of it) and its Patroni are SIGKILLed while customers
place orders, each with an Idempotency-Key they retry until it is answered 201, and others read.
Meanwhile the service answers 503 problem+json with Retry-After, never a 500, and serves again
within 15 s. At the end every order that got a 201 is on the primary, exactly once; the stock taken
is the orders stored; and every order's `order.placed` reached a queue bound before the first order.
Between failovers the dead node comes back (rewound when its history went past the new primary's)
as the synchronous standby, ready to take over the next time.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPException

import pika
import pytest
from sqlalchemy import create_engine, text

from shop.adapters.amqp import EXCHANGE, declare
from shop.adapters.sql.migrations import upgrade
from tests.servers import required

from .conftest import Instance, RelayStarter, Starter
from .patroni import HaCluster, wait_seconds

FAILOVERS = 3
MAX_OUTAGE_S = 15.0
ORDER_THREADS = 4
CUSTOMERS = 4
STOCK = 100_000
RETRY_PAUSE_S = 0.1  # faster than Retry-After asks, to see the end of the outage to a tenth of a second
KEY_DEADLINE_S = 60.0  # a customer gives up on a key after this long (a failure of the test)
STEADY_S = 2.0
DRAIN_TIMEOUT_S = 60.0


@pytest.fixture
def cluster() -> Iterator[HaCluster]:
    reason = required("SHOP_REQUIRE_PATRONI", ["patroni", "etcd", "haproxy"], "patroni etcd-server haproxy")
    if reason:
        pytest.skip(reason)
    made = HaCluster.start()
    try:
        yield made
    finally:
        made.stop()


@dataclass(frozen=True)
class Attempt:
    kind: str  # "order" or "read"
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all
    detail: str = ""

    @property
    def served(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Load:
    """Customers placing orders and others reading, recording every attempt, until stopped."""

    api: Instance
    tokens: list[str]
    product: int
    attempts: list[Attempt] = field(default_factory=list)
    placed: dict[str, int] = field(default_factory=dict)  # Idempotency-Key -> order id
    replayed: int = 0
    unresolved: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.threads = [threading.Thread(target=self._order, args=(n,)) for n in range(ORDER_THREADS)]
        self.threads.append(threading.Thread(target=self._read))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(KEY_DEADLINE_S + 15)

    def _call(self, kind: str, method: str, path: str, body: object = None, **headers: str) -> tuple[Attempt, bytes]:
        token = self.tokens[hash(threading.current_thread().name) % len(self.tokens)]
        started = time.monotonic()
        try:
            reply = self.api.call(method, path, body, token=token, headers=headers)
        except (OSError, HTTPException) as error:
            attempt = Attempt(kind, started, time.monotonic(), 0, type(error).__name__)
            self._record(attempt)
            return attempt, b""
        detail = ""
        if reply.status >= 500:
            detail = f"{reply.headers.get('content-type')} retry-after={reply.headers.get('retry-after')}"
            detail += f" {reply.body[:200]!r}"
        if reply.headers.get("idempotent-replayed") == "true":
            with self.lock:
                self.replayed += 1
        attempt = Attempt(kind, started, time.monotonic(), reply.status, detail)
        self._record(attempt)
        return attempt, reply.body

    def _record(self, attempt: Attempt) -> None:
        with self.lock:
            self.attempts.append(attempt)

    def _order(self, n: int) -> None:
        body = {"items": [{"product": self.product, "quantity": 1}]}
        while not self.stop.is_set():
            key = f"{n}-{uuid.uuid4()}"
            first = time.monotonic()
            while True:  # the same key until it is answered: a retry must never order twice
                attempt, payload = self._call("order", "POST", "/orders/", body, **{"Idempotency-Key": key})
                if attempt.status == 201:
                    with self.lock:
                        self.placed[key] = json.loads(payload)["id"]
                    break
                if time.monotonic() - first > KEY_DEADLINE_S:
                    with self.lock:
                        self.unresolved.append(key)
                    break
                time.sleep(RETRY_PAUSE_S)
            time.sleep(0.02)

    def _read(self) -> None:
        paths = [f"/products/{self.product}/", "/orders/?page_size=5"]
        n = 0
        while not self.stop.is_set():
            attempt, _ = self._call("read", "GET", paths[n % 2])
            n += 1
            time.sleep(RETRY_PAUSE_S if not attempt.served else 0.05)

    def since(self, moment: float) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if a.ended >= moment]

    def orders_served_after(self, moment: float) -> int:
        return sum(1 for a in self.since(moment) if a.kind == "order" and a.served and a.started > moment)


@dataclass(frozen=True)
class Failover:
    number: int
    killed: str
    promoted_after_s: float
    outage_s: float  # from the start of the first request refused to the end of the last one
    last_failure_after_s: float  # from the kill to the end of the last request refused
    refused: Counter[int]
    orders_during: int  # orders answered 201 between the kill and the end of the outage

    def line(self) -> str:
        return (
            f"failover {self.number} ({self.killed} killed): promoted after {self.promoted_after_s:.1f} s, "
            f"no service for {self.outage_s:.1f} s, last refusal {self.last_failure_after_s:.1f} s after the kill, "
            f"refused {dict(self.refused)}, orders placed meanwhile: {self.orders_during}"
        )


class Queue:
    """A queue of the test's own bound to order.placed before any order is placed."""

    def __init__(self, broker_url: str) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        self._channel = self._connection.channel()
        declare(self._channel)
        self.name = f"failover-test-{uuid.uuid4()}"
        self._channel.queue_declare(self.name, durable=True)
        self._channel.queue_bind(self.name, EXCHANGE, routing_key="order.placed")

    def order_ids(self) -> Counter[int]:
        received: Counter[int] = Counter()
        seen: set[str] = set()
        while True:
            method, _properties, body = self._channel.basic_get(self.name, auto_ack=True)
            if method is None:
                return received
            event = json.loads(body)
            if event["id"] not in seen:  # at least once: deduplicated by id, as consumers do
                seen.add(event["id"])
                received[event["aggregate_id"]] += 1

    def close(self) -> None:
        self._channel.queue_delete(self.name)
        self._connection.close()


def unexpected_errors(api: Instance) -> list[str]:
    """The service's log lines of each unhandled error, its traceback included."""
    return [line for line in api.log.read_text(errors="replace").splitlines() if '"unhandled error' in line]


def fail_over(cluster: HaCluster, load: Load, number: int) -> Failover:
    time.sleep(STEADY_S)
    leader = cluster.leader()
    standby = cluster.other(leader)
    killed_at = time.monotonic()
    leader.crash()
    promoted = wait_seconds(lambda: standby.role() == "primary", 60)
    assert promoted is not None, cluster.tail()
    served_again = wait_seconds(lambda: load.orders_served_after(killed_at + promoted) > 0, 60)
    assert served_again is not None, "no order was served after the promotion"
    time.sleep(STEADY_S)

    after = load.since(killed_at)
    refused = [a for a in after if not a.served]
    assert refused, "the kill refused nothing: the test did not see the failover"
    first_refused, last_refused = min(a.started for a in refused), max(a.ended for a in refused)
    return Failover(
        number=number,
        killed=leader.name,
        promoted_after_s=promoted,
        outage_s=last_refused - first_refused,
        last_failure_after_s=last_refused - killed_at,
        refused=Counter(a.status for a in refused),
        orders_during=sum(1 for a in after if a.kind == "order" and a.status == 201 and a.ended <= last_refused),
    )


def test_three_failovers_lose_no_acknowledged_order_and_answer_no_500(
    cluster: HaCluster, start: Starter, start_relay: RelayStarter, broker_url: str
) -> None:
    admin = create_engine(cluster.url())
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CREATE DATABASE shop"))
    admin.dispose()
    url = cluster.url("shop")
    upgrade(url)
    (api,) = start(1, DATABASE_URL=url, RATELIMIT_ENABLED="false")
    product = api.product(api.manager("boss"), "Lamp", stock=STOCK)
    tokens = [api.customer(f"customer{n}") for n in range(CUSTOMERS)]
    queue = Queue(broker_url)
    relay = start_relay(broker_url, DATABASE_URL=url)
    load = Load(api, tokens, product)
    failovers: list[Failover] = []
    load.start()
    try:
        for number in range(1, FAILOVERS + 1):
            failovers.append(fail_over(cluster, load, number))
            if number < FAILOVERS:
                cluster.rejoin(cluster.other(cluster.leader()))
    finally:
        load.finish()
    for failover in failovers:
        print(failover.line())
    print(f"{len(load.placed)} orders acknowledged, {load.replayed} of them by a replay; {len(load.attempts)} requests")

    statuses = Counter(a.status for a in load.attempts)
    assert 500 not in statuses, "\n".join(unexpected_errors(api))
    assert set(statuses) <= {200, 201, 503}, statuses
    for attempt in load.attempts:
        if attempt.status == 503:
            assert "application/problem+json retry-after=" in attempt.detail
            assert "retry-after=None" not in attempt.detail, attempt
    assert load.unresolved == []
    for failover in failovers:
        assert failover.outage_s <= MAX_OUTAGE_S, failover.line()
        assert failover.last_failure_after_s <= MAX_OUTAGE_S, failover.line()

    primary = create_engine(cluster.node_url(cluster.leader(), "shop"))
    with primary.connect() as connection:
        stored = set(connection.execute(text("SELECT id FROM orders")).scalars())
        stock = connection.execute(text("SELECT stock FROM products WHERE id = :id"), {"id": product}).scalar_one()
        quantities = connection.execute(text("SELECT coalesce(sum(quantity), 0) FROM order_lines")).scalar_one()
    acknowledged = set(load.placed.values())
    assert acknowledged <= stored, f"acknowledged orders lost: {sorted(acknowledged - stored)[:10]}"
    assert stored == acknowledged, f"orders stored that no 201 acknowledged: {sorted(stored - acknowledged)[:10]}"
    assert len(acknowledged) == len(load.placed), "two keys were answered with the same order"
    assert STOCK - stock == quantities == len(stored)

    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    with primary.connect() as connection:
        pending = "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        while connection.execute(text(pending)).scalar_one():
            assert time.monotonic() < deadline, relay.log_tail()
            time.sleep(0.2)
            connection.rollback()
    primary.dispose()
    time.sleep(0.5)
    published = queue.order_ids()
    queue.close()
    assert set(published) == stored, f"missing events: {sorted(stored - set(published))[:10]}"
