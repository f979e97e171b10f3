"""Webhooks end to end: real gunicorn, PostgreSQL and `shop webhooks` processes, 1,000 orders, a
receiver that fails 30% of its answers at random, and the deliverer SIGKILLed midway and started
again. Every order.placed arrives, duplicates carry the same webhook-id, each order's events arrive
in order, and every delivery verifies with the standardwebhooks library."""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from tests.receivers import Received, Receiver, Reply

from .conftest import Instance, Starter, WebhooksStarter

ORDERS = 1000
FAILING = 0.3
DRAIN_TIMEOUT_S = 60
KEY = secrets.token_urlsafe(36)
COMMON = {"SHOP_ENV": "development", "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_SECRET_KEY": KEY}
# Short waits, and enough of them that giving up (0.3 ** 21) never happens in a run.
DELIVERER = {**COMMON, "WEBHOOK_RETRY_SCHEDULE": ",".join(["0.3"] * 20), "WEBHOOK_CLAIM_SECONDS": "20"}


class Flaky:
    """Fails 30% of its answers with a 500, at random (seeded), and notes what it answered."""

    def __init__(self) -> None:
        self._random = random.Random(20)
        self._lock = threading.Lock()
        self.answers: list[tuple[Received, int]] = []

    def __call__(self, request: Received, _count: int) -> Reply:
        with self._lock:
            status = 500 if self._random.random() < FAILING else 200
            self.answers.append((request, status))
        return Reply(status)


def place_orders(api: Instance, customers: list[str], product: int, manager: str) -> list[int]:
    def one(n: int) -> int:
        order = api.expect(
            201, "POST", "/orders/", {"items": [{"product": product, "quantity": 1}]}, token=customers[n % 4]
        )
        order_id: int = order["id"]
        if n % 5 == 0:  # a second event for some orders: their order must hold
            api.expect(200, "POST", f"/orders/{order_id}/cancel/", token=manager)
        return order_id

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(ORDERS)))


def waiting(pg_url: str) -> tuple[int, int]:
    """(outbox rows not fanned out yet, deliveries not succeeded)."""
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            unfanned = conn.execute(text("SELECT count(*) FROM outbox WHERE fanned_out_at IS NULL")).scalar_one()
            left = conn.execute(
                text("SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'")
            ).scalar_one()
            return int(unfanned), int(left)
    finally:
        engine.dispose()


def test_1000_orders_reach_a_flaky_receiver_through_a_killed_deliverer(
    start: Starter, start_webhooks: WebhooksStarter, pg_url: str
) -> None:
    flaky = Flaky()
    receiver = Receiver(flaky).start()
    try:
        (api,) = start(1, WEB_CONCURRENCY="4", **COMMON)
        manager = api.manager("boss")
        customers = [api.customer(f"buyer{n}") for n in range(4)]
        product = api.product(manager, "Webhook tea", stock=100_000)
        endpoint = api.expect(201, "POST", "/webhooks/", {"url": receiver.url, "events": ["order.*"]}, token=manager)
        deliverer = start_webhooks(**DELIVERER)

        placing = ThreadPoolExecutor(1).submit(place_orders, api, customers, product, manager)
        receiver.wait_for(300, timeout=60)
        deliverer.kill()  # SIGKILL: its claims lapse after WEBHOOK_CLAIM_SECONDS
        start_webhooks(**DELIVERER)
        orders = placing.result(timeout=120)

        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while (left := waiting(pg_url)) != (0, 0):
            assert time.monotonic() < deadline, f"still waiting after {DRAIN_TIMEOUT_S}s: {left}"
            time.sleep(0.3)
    finally:
        receiver.stop()

    by_id: dict[str, list[tuple[Received, int]]] = defaultdict(list)
    for request, status in flaky.answers:
        by_id[request.webhook_id].append((request, status))
    events = {webhook_id: json.loads(answers[0][0].body) for webhook_id, answers in by_id.items()}

    placed = {e["aggregate_id"] for e in events.values() if e["type"] == "order.placed"}
    cancelled = {e["aggregate_id"] for e in events.values() if e["type"] == "order.cancelled"}
    assert placed == set(orders)
    assert cancelled == {order_id for n, order_id in enumerate(orders) if n % 5 == 0}
    for webhook_id, answers in by_id.items():
        assert any(status == 200 for _, status in answers), webhook_id  # delivered at least once
        assert len({request.body for request, _ in answers}) == 1  # a duplicate is the same event
        assert events[webhook_id]["id"] == webhook_id
    for request, _ in flaky.answers[::50]:
        request.verify(endpoint["secret"])

    # Each order's events in order: nothing of an order arrives before its order.placed succeeded.
    first_success: dict[tuple[int, str], int] = {}
    first_arrival: dict[tuple[int, str], int] = {}
    for position, (request, status) in enumerate(flaky.answers):
        event = events[request.webhook_id]
        key = (event["aggregate_id"], event["type"])
        first_arrival.setdefault(key, position)
        if status == 200:
            first_success.setdefault(key, position)
    for order_id in cancelled:
        assert first_success[(order_id, "order.placed")] < first_arrival[(order_id, "order.cancelled")], order_id
    duplicates = sum(1 for answers in by_id.values() if sum(s == 200 for _, s in answers) > 1)
    print(f"{len(flaky.answers)} requests, {len(by_id)} events, {duplicates} delivered more than once")
