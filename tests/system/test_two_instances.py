"""Two gunicorn masters over one PostgreSQL database and one Redis, as two hosts behind a load balancer
would run: stock, revocations and rate limits must hold across them, not only within one process."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from tests.fakes import PASSWORD
from tests.system.conftest import Instance, Reply, Starter

pytestmark = pytest.mark.postgres

STOCK = 30
THREADS = 16


def assert_problem(reply: Reply, status: int) -> None:
    assert reply.status == status, reply
    assert reply.headers["content-type"] == "application/problem+json", reply
    assert reply.json()["status"] == status, reply


def test_orders_through_both_instances_never_oversell(start: Starter, pg_engine: Engine) -> None:
    a, b = start(2)
    product = a.product(a.manager("boss"), "Last lamps", stock=STOCK)
    customer = b.customer("carol")
    barrier = threading.Barrier(THREADS)

    def order_one_until_sold_out(thread: int) -> list[tuple[str, int]]:
        """(instance, status) of each attempt, alternating between the instances."""
        barrier.wait()
        attempts = []
        for n in range(STOCK + 1):
            instance = (a, b)[(thread + n) % 2]
            reply = instance.call("POST", "/orders/", {"items": [{"product": product, "quantity": 1}]}, token=customer)
            attempts.append((instance.name, reply.status))
            if reply.status != 201:
                break
        return attempts

    with ThreadPoolExecutor(THREADS) as pool:
        attempts = [attempt for thread in pool.map(order_one_until_sold_out, range(THREADS)) for attempt in thread]

    statuses = Counter(status for _, status in attempts)
    assert statuses == {201: STOCK, 409: THREADS}, statuses  # every thread ends on its 409, never a 5xx
    assert {name for name, status in attempts if status == 201} == {a.name, b.name}
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT stock FROM products WHERE id = :id"), {"id": product}).scalar_one() == 0
        assert conn.execute(text("SELECT count(*), sum(quantity) FROM order_lines")).one() == (STOCK, STOCK)
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar_one() == STOCK


def test_tokens_revoked_through_one_instance_are_refused_by_the_other(start: Starter) -> None:
    a, b = start(2)
    user = a.signup("carol")
    tokens = a.login("carol")
    me = f"/users/{user['id']}/"
    # Several calls, so both of b's workers have seen the token and may have its standing cached.
    assert [b.call("GET", me, token=tokens["access"]).status for _ in range(4)] == [200] * 4

    a.expect(204, "POST", "/api/token/revoke/", {"refresh": tokens["refresh"]}, token=tokens["access"])

    for _ in range(4):
        assert_problem(b.call("GET", me, token=tokens["access"]), 401)
    assert_problem(b.call("POST", "/api/token/refresh/", {"refresh": tokens["refresh"]}), 401)


def test_failed_logins_are_counted_over_both_instances(start: Starter) -> None:
    a, b = start(2)  # RATELIMIT_LOGIN_FAILURES: 5 per minute and username
    a.signup("carol")
    a.signup("dave")

    def log_in(instance: Instance, username: str, password: str) -> Reply:
        return instance.call("POST", "/api/token/", {"username": username, "password": password})

    failures = [log_in(instance, "carol", "not-the-password").status for instance in (a, a, a, b, b)]
    blocked = [log_in(instance, "carol", PASSWORD) for instance in (a, b)]

    assert failures == [401] * 5
    for reply in blocked:  # even with the right password
        assert_problem(reply, 429)
        assert int(reply.headers["retry-after"]) > 0
    assert log_in(b, "dave", PASSWORD).status == 200  # the limit is carol's, not the address's


def test_sign_ups_from_one_address_are_counted_over_both_instances(start: Starter) -> None:
    a, b = start(2, RATELIMIT_PER_ADDRESS="6 per minute")

    statuses = [
        instance.call("POST", "/users/", {"username": f"user{n}", "password": PASSWORD}).status
        for n, instance in enumerate((a, a, a, b, b, b))
    ]
    blocked = [instance.call("POST", "/users/", {"username": "late", "password": PASSWORD}) for instance in (a, b)]

    assert statuses == [201] * 6
    for reply in blocked:
        assert_problem(reply, 429)
        assert int(reply.headers["retry-after"]) > 0
