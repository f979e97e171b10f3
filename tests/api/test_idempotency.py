"""Idempotency-Key on POST /orders/: retries replay, a different body is refused, keys are per user."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.api.conftest import Api


@pytest.fixture
def product(api: Api, manager_token: str) -> dict[str, Any]:
    created = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "2.50", "stock": 10})
    body: dict[str, Any] = created.get_json()
    return body


def order(api: Api, token: str, product: dict[str, Any], quantity: int = 1, key: str | None = "key-1") -> TestResponse:
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {"items": [{"product": product["id"], "quantity": quantity}]}
    return api.call("POST", "/orders/", token, json=body, headers=headers)


def stock(api: Api, token: str, product: dict[str, Any]) -> int:
    left: int = api.call("GET", f"/products/{product['id']}/", token).get_json()["stock"]
    return left


def test_a_retry_replays_the_first_response_and_orders_nothing_more(
    api: Api, customer_token: str, product: dict[str, Any]
) -> None:
    first = order(api, customer_token, product, quantity=2)
    again = order(api, customer_token, product, quantity=2)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert stock(api, customer_token, product) == 8
    assert api.call("GET", "/orders/", customer_token).get_json() == [first.get_json()]


def test_the_same_key_with_another_body_is_refused(api: Api, customer_token: str, product: dict[str, Any]) -> None:
    order(api, customer_token, product, quantity=1)

    reused = order(api, customer_token, product, quantity=3)

    assert reused.status_code == 422
    assert reused.headers["Content-Type"] == "application/problem+json"
    assert reused.get_json()["type"] == "urn:shop:problem:idempotency-key-reused"
    assert stock(api, customer_token, product) == 9


def test_keys_belong_to_one_user(api: Api, customer_token: str, product: dict[str, Any]) -> None:
    api.signup("dave")
    dave = api.login("dave")["access"]

    mine = order(api, customer_token, product)
    theirs = order(api, dave, product)

    assert theirs.status_code == 201
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers


def test_a_failed_attempt_can_be_retried_with_the_same_key(
    api: Api, customer_token: str, manager_token: str, product: dict[str, Any]
) -> None:
    short = order(api, customer_token, product, quantity=11)
    api.call("PATCH", f"/products/{product['id']}/", manager_token, json={"stock": 20})

    retried = order(api, customer_token, product, quantity=11)

    assert short.status_code == 409
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


def test_without_a_key_every_request_orders(api: Api, customer_token: str, product: dict[str, Any]) -> None:
    assert order(api, customer_token, product, key=None).status_code == 201
    assert order(api, customer_token, product, key=None).status_code == 201
    assert stock(api, customer_token, product) == 8


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "tab\there"])
def test_malformed_keys_are_refused(api: Api, customer_token: str, product: dict[str, Any], key: str) -> None:
    response = order(api, customer_token, product, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["errors"]
    assert stock(api, customer_token, product) == 10
