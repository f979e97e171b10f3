"""Rate limits: failed logins per username, calls per client address; 429 problems with Retry-After."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any, Protocol

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from shop.application.errors import AuthenticationFailed, TooManyAttempts
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.fakes import PASSWORD
from tests.support import use_cases


class Limited(Protocol):
    def __call__(self, **limits: str) -> Api: ...


@pytest.fixture
def limited(settings: Settings) -> Limited:
    def make(**limits: Any) -> Api:
        return Api(create_app(replace(settings, **limits)).test_client())

    return make


def login(api: Api, username: str, password: str, address: str = "10.0.0.1") -> TestResponse:
    return api.client.post(
        "/api/token/", json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_failed_logins_are_limited_per_username(limited: Limited) -> None:
    api = limited(ratelimit_login_failures="3 per minute")
    api.signup("carol")

    failures = [login(api, "carol", "wrong-password").status_code for _ in range(3)]
    blocked = login(api, "carol", PASSWORD)

    assert failures == [401, 401, 401]
    assert blocked.status_code == 429
    assert blocked.headers["Content-Type"] == "application/problem+json"
    assert blocked.get_json()["status"] == 429
    assert int(blocked.headers["Retry-After"]) > 0


def test_the_username_limit_does_not_touch_other_users_or_successes(limited: Limited) -> None:
    api = limited(ratelimit_login_failures="2 per minute")
    api.signup("carol")
    api.signup("dave")

    successes = [login(api, "carol", PASSWORD).status_code for _ in range(4)]
    failures = [login(api, "dave", "nope-nope").status_code for _ in range(3)]

    assert successes == [200, 200, 200, 200]
    assert failures == [401, 401, 429]
    assert login(api, "carol", PASSWORD).status_code == 200


def test_calls_are_limited_per_client_address(limited: Limited) -> None:
    api = limited(ratelimit_per_address="3 per minute")

    statuses = [
        api.client.post(
            "/users/", json={"username": f"u{i}", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
        ).status_code
        for i in range(4)
    ]
    elsewhere = api.client.post(
        "/users/", json={"username": "other", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.10"}
    )

    assert statuses == [201, 201, 201, 429]
    assert elsewhere.status_code == 201


def test_refresh_is_limited_per_address(limited: Limited) -> None:
    api = limited(ratelimit_per_address="2 per minute")
    statuses = [api.client.post("/api/token/refresh/", json={"refresh": "x"}).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_reads_are_not_limited(limited: Limited, manager_token: str) -> None:
    api = limited(ratelimit_per_address="1 per minute")
    api.signup("carol")
    token = login(api, "carol", PASSWORD).get_json()["access"]
    assert [api.call("GET", "/products/", token).status_code for _ in range(3)] == [200, 200, 200]


def failed_logins(app: Flask, username: str, count: int) -> list[str]:
    """Wrong passwords through one application's own use case (the views of every application in a
    process call the container wired last, so HTTP can't tell two containers apart: tests/system does)."""
    outcomes = []
    for _ in range(count):
        try:
            use_cases(app).login(username=username, password="wrong-password")
        except AuthenticationFailed:
            outcomes.append("401")
        except TooManyAttempts:
            outcomes.append("429")
    return outcomes


def test_by_default_every_worker_shares_one_count_of_failed_logins(settings: Settings) -> None:
    """Two applications on one database stand for two gunicorn workers, or two instances."""
    first, second = (create_app(replace(settings, ratelimit_login_failures="4 per minute")) for _ in range(2))

    outcomes = [
        *failed_logins(first, "carol", 2),
        *failed_logins(second, "carol", 2),
        *failed_logins(first, "carol", 1),
    ]

    assert outcomes == ["401"] * 4 + ["429"]


def test_memory_storage_counts_in_each_process_alone(settings: Settings) -> None:
    first, second = (
        create_app(replace(settings, ratelimit_login_failures="1 per minute", ratelimit_storage_uri="memory://"))
        for _ in range(2)
    )

    assert [*failed_logins(first, "carol", 2), *failed_logins(second, "carol", 1)] == ["401", "429", "401"]


def test_password_changes_are_limited_per_account(limited: Limited) -> None:
    api = limited(ratelimit_password_changes="2 per hour")
    user = api.signup("carol")
    token = api.login("carol")["access"]
    statuses = []
    for n in range(3):
        reply = api.call("PUT", f"/users/{user['id']}/", token, json={"password": f"new-secret-{n}"})
        statuses.append(reply.status_code)
        if reply.status_code == 200:  # a new password revokes every token: log in again
            token = api.login("carol", f"new-secret-{n}")["access"]

    assert statuses == [200, 200, 429]
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert 3500 < int(reply.headers["Retry-After"]) <= 3600
    assert "Too many password changes" in reply.get_json()["detail"]


def test_limits_hold_across_instances_with_redis(settings: Settings) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.RedisError:
        pytest.fail("Redis is not reachable on 127.0.0.1:6379; .ci/run starts it")
    on_redis = replace(
        settings, ratelimit_login_failures="2 per minute", ratelimit_storage_uri="redis://127.0.0.1:6379/0"
    )
    first, second = create_app(on_redis), create_app(on_redis)
    name = f"ghost-{uuid.uuid4().hex[:8]}"

    assert [*failed_logins(first, name, 1), *failed_logins(second, name, 1), *failed_logins(first, name, 1)] == [
        "401",
        "401",
        "429",
    ]


def test_only_a_refusal_carries_retry_after(limited: Limited) -> None:
    api = limited(ratelimit_login_failures="1 per minute")

    signed_up = api.client.post(
        "/users/", json={"username": "carol", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    logged_in = login(api, "carol", PASSWORD)
    failed = login(api, "carol", "wrong-password")
    refused = login(api, "carol", PASSWORD)

    assert [r.status_code for r in (signed_up, logged_in, failed, refused)] == [201, 200, 401, 429]
    assert [("Retry-After" in r.headers) for r in (signed_up, logged_in, failed)] == [False, False, False]
    assert int(refused.headers["Retry-After"]) > 0
    assert logged_in.headers["X-RateLimit-Remaining"]  # the budget left is still told, on every answer
