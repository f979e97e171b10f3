"""Idempotency-Key on POST /orders/: retries replay, a different body is refused, keys are per user."""

from __future__ import annotations

import pytest


@pytest.fixture
def product(api, manager_token):
    created = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "2.50", "stock": 10})
    return created.json


def order(api, token, product, quantity=1, key="key-1"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {"items": [{"product": product["id"], "quantity": quantity}]}
    return api.call("POST", "/orders/", token, json=body, headers=headers)


def stock(api, token, product):
    return api.call("GET", f"/products/{product['id']}/", token).json["stock"]


def test_a_retry_replays_the_first_response_and_orders_nothing_more(api, customer_token, product):
    first = order(api, customer_token, product, quantity=2)
    again = order(api, customer_token, product, quantity=2)

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert stock(api, customer_token, product) == 8
    assert api.call("GET", "/orders/", customer_token).json == [first.json]


def test_the_same_key_with_another_body_is_refused(api, customer_token, product):
    order(api, customer_token, product, quantity=1)

    reused = order(api, customer_token, product, quantity=3)

    assert reused.status_code == 422
    assert reused.headers["Content-Type"] == "application/problem+json"
    assert reused.json["type"] == "urn:shop:problem:idempotency-key-reused"
    assert stock(api, customer_token, product) == 9


def test_keys_belong_to_one_user(api, customer_token, product):
    api.signup("dave")
    dave = api.login("dave")["access"]

    mine = order(api, customer_token, product)
    theirs = order(api, dave, product)

    assert theirs.status_code == 201
    assert theirs.json["id"] != mine.json["id"]
    assert "Idempotent-Replayed" not in theirs.headers


def test_a_failed_attempt_can_be_retried_with_the_same_key(api, customer_token, manager_token, product):
    short = order(api, customer_token, product, quantity=11)
    api.call("PATCH", f"/products/{product['id']}/", manager_token, json={"stock": 20})

    retried = order(api, customer_token, product, quantity=11)

    assert short.status_code == 409
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


def test_without_a_key_every_request_orders(api, customer_token, product):
    assert order(api, customer_token, product, key=None).status_code == 201
    assert order(api, customer_token, product, key=None).status_code == 201
    assert stock(api, customer_token, product) == 8


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "tab\there"])
def test_malformed_keys_are_refused(api, customer_token, product, key):
    response = order(api, customer_token, product, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json["errors"]
    assert stock(api, customer_token, product) == 10
