"""SIGTERM to a real gunicorn master: what a worker has taken is finished and answered, nothing else is done.

What happens (sync workers): the master closes its listening socket and sends SIGTERM to the
workers; each one drops its copy of the listener at once (gunicorn_conf.post_worker_init), finishes
the request it holds, then exits. So new connections are refused from the moment SIGTERM has been
handled, even while a request is still being finished. A connection the kernel completed in the
instant before can still be reset unanswered: it is never processed.
"""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from tests.system.conftest import (
    GRACEFUL_TIMEOUT_S,
    HOST,
    REQUEST_TIMEOUT_S,
    Exchange,
    Instance,
    Starter,
    exchange,
    json_bytes,
    raw_request,
    read_to_end,
    request_head,
)

pytestmark = pytest.mark.postgres

THREADS = 8
ANSWERS_BEFORE_SIGTERM = 40
LOAD_DEADLINE_S = 60


def stock(engine: Engine, product_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT stock FROM products WHERE id = :id"), {"id": product_id}).scalar_one())


def ordered(engine: Engine, product_id: int) -> int:
    """The quantity of the product over every order line."""
    query = "SELECT coalesce(sum(quantity), 0) FROM order_lines WHERE product_id = :id"
    with engine.connect() as conn:
        return int(conn.execute(text(query), {"id": product_id}).scalar_one())


def order_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.execute(text("SELECT id FROM orders")).scalars())


def orders_without_lines(engine: Engine) -> list[int]:
    query = "SELECT o.id FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id WHERE l.id IS NULL"
    with engine.connect() as conn:
        return list(conn.execute(text(query)).scalars())


def poll(condition: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.01)


def assert_graceful_exit(service: Instance, signalled: float) -> None:
    """Exit status 0 within graceful_timeout: gunicorn SIGKILLs the workers still busy when it runs out
    (and still exits 0), so an exit before it means every worker finished on its own."""
    try:
        status = service.process.wait(GRACEFUL_TIMEOUT_S + 5)
    except subprocess.TimeoutExpired:
        raise AssertionError(service.explain("gunicorn did not exit after SIGTERM")) from None
    elapsed = time.monotonic() - signalled
    assert status == 0, service.explain(f"gunicorn exited with {status}")
    assert elapsed < GRACEFUL_TIMEOUT_S, service.explain(f"gunicorn took {elapsed:.1f}s to stop")


def test_a_request_in_flight_at_sigterm_is_answered_and_a_later_one_is_refused(
    start: Starter, pg_engine: Engine
) -> None:
    [service] = start()
    manager = service.manager("boss")
    product = service.product(manager, "Lamp", stock=10)
    customer = service.customer("carol")
    body = json_bytes({"items": [{"product": product, "quantity": 3}]})
    head = request_head("POST", "/orders/", length=len(body), token=customer, expect_continue=True)
    one_more = {"items": [{"product": product, "quantity": 1}]}

    with socket.create_connection((HOST, service.port), timeout=REQUEST_TIMEOUT_S) as in_flight:
        in_flight.sendall(head)
        # gunicorn sends 100 Continue once a worker has taken the request and parsed its head.
        assert in_flight.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n", service.explain("no 100 Continue")
        in_flight.sendall(body[:10])

        service.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        # The idle worker leaves at once; the busy one waits for the rest of its body.
        poll(lambda: len(service.workers()) == 1, 5, service.explain("the idle worker did not exit"))
        # ...and no longer listens: a new request is refused while the one in hand is still open.
        late = exchange(service.port, raw_request("POST", "/orders/", one_more, token=customer))
        assert len(service.workers()) == 1, service.explain("the busy worker left before answering")
        in_flight.sendall(body[10:])
        answered = read_to_end(in_flight)
        in_flight.close()  # gunicorn lingers until the client has read everything and closed

    reply = answered.reply()
    assert reply.status == 201, service.explain(reply)
    order = reply.json()
    assert [(line["product"], line["quantity"]) for line in order["items"]] == [(product, 3)]
    assert late.outcome == "refused", service.explain(late)
    assert_graceful_exit(service, signalled)
    assert exchange(service.port, b"").outcome == "refused"
    assert order_ids(pg_engine) == [order["id"]]  # the late request ordered nothing
    assert stock(pg_engine, product) == 10 - 3


def test_sigterm_under_load_answers_every_request_taken_and_loses_no_order(start: Starter, pg_engine: Engine) -> None:
    [service] = start()
    manager = service.manager("boss")
    plenty = service.product(manager, "Plenty", stock=100_000)
    scarce = service.product(manager, "Scarce", stock=5)
    customer = service.customer("carol")
    baskets = [  # the second and third run out: 409s too, all or nothing
        [{"product": plenty, "quantity": 1}],
        [{"product": scarce, "quantity": 1}],
        [{"product": plenty, "quantity": 2}, {"product": scarce, "quantity": 1}],
    ]
    exchanges: list[Exchange] = []
    answers = Counter[str]()
    lock = threading.Lock()
    ready_to_stop, abandon = threading.Event(), threading.Event()

    def place_orders_until_refused(thread: int) -> None:
        for n in itertools.count():
            items = baskets[(thread + n) % len(baskets)]
            done = exchange(service.port, raw_request("POST", "/orders/", {"items": items}, token=customer))
            with lock:
                exchanges.append(done)
                answers[done.outcome] += 1
                if answers["409"] and answers.total() >= ANSWERS_BEFORE_SIGTERM:
                    ready_to_stop.set()
            if done.outcome == "refused" or abandon.is_set():
                return

    with ThreadPoolExecutor(THREADS) as pool:
        running = [pool.submit(place_orders_until_refused, thread) for thread in range(THREADS)]
        try:
            assert ready_to_stop.wait(LOAD_DEADLINE_S), service.explain(f"too few answers: {answers}")
            service.process.send_signal(signal.SIGTERM)
            assert_graceful_exit(service, time.monotonic())
        except BaseException:
            abandon.set()
            raise
        for thread in running:
            thread.result()

    outcomes = Counter(done.outcome for done in exchanges)
    # Every request either got a whole answer, or was never taken by a worker: refused, or queued by
    # the kernel and reset at the end (the database shows below that those ordered nothing).
    assert set(outcomes) <= {"201", "409", "refused", "unanswered"}, service.explain(outcomes)
    assert outcomes["refused"] == THREADS, outcomes  # each thread ran until the service was gone
    placed = [done.reply().json()["id"] for done in exchanges if done.outcome == "201"]
    assert order_ids(pg_engine) == sorted(placed), outcomes
    assert orders_without_lines(pg_engine) == []
    assert 100_000 - stock(pg_engine, plenty) == ordered(pg_engine, plenty)
    assert 5 - stock(pg_engine, scarce) == ordered(pg_engine, scarce) == 5
