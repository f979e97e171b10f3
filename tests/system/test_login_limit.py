"""Wrong passwords against `make run`'s four workers, each on a connection of its own, at once and
one after another: the password is checked five times at most, whichever worker takes the guess,
counted in the database by default (SQLite as `make run` has it, or PostgreSQL) or in Redis."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.system.conftest import LIMITS_REDIS_URL, METRICS_TOKEN, Instance, Starter

pytestmark = pytest.mark.postgres

AT_ONCE = 20
ONE_AFTER_ANOTHER = 30


def guess(service: Instance, username: str, n: int) -> int:
    reply = service.call("POST", "/api/token/", {"username": username, "password": f"guess-number-{n}"})
    if reply.status == 429:
        assert reply.headers["content-type"] == "application/problem+json"
        assert int(reply.headers["retry-after"]) > 0
    return reply.status


def password_checks(service: Instance) -> float:
    reply = service.call("GET", "/metrics", token=METRICS_TOKEN)
    return sum(
        sample.value
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
        if sample.name == "shop_login_failures_total"
    )


@pytest.mark.parametrize("storage", ["sqlite", "postgres", "redis"])
def test_wrong_passwords_reach_the_password_check_five_times_whatever_the_worker(
    start: Starter, storage: str, request: pytest.FixtureRequest
) -> None:
    env = {
        "WEB_CONCURRENCY": "4",
        # An hour, not the default minute: a slow run must not see the window move under it.
        "RATELIMIT_LOGIN_FAILURES": "5 per hour",
        "RATELIMIT_STORAGE_URI": LIMITS_REDIS_URL if storage == "redis" else "",
    }
    if storage == "sqlite":
        env["DATABASE_URL"] = request.getfixturevalue("sqlite_url")
    (service,) = start(1, **env)
    deadline = time.monotonic() + 10
    while len(service.workers()) < 4 and time.monotonic() < deadline:  # ready once one worker answers
        time.sleep(0.1)
    assert len(service.workers()) == 4
    service.signup("carol")
    service.signup("dave")
    go = threading.Barrier(AT_ONCE)

    def at_once(n: int) -> int:
        go.wait()
        return guess(service, "carol", n)

    with ThreadPoolExecutor(AT_ONCE) as pool:
        simultaneous = Counter(pool.map(at_once, range(AT_ONCE)))
    sequential = Counter(guess(service, "dave", n) for n in range(ONE_AFTER_ANOTHER))

    assert simultaneous == {401: 5, 429: AT_ONCE - 5}
    assert sequential == {401: 5, 429: ONE_AFTER_ANOTHER - 5}
    assert password_checks(service) == 10
