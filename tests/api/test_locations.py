"""Every 201 says where the new resource lives (Location), and the OpenAPI document says so too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.api.conftest import Api
from tests.api.test_docs import operations
from tests.fakes import PASSWORD

Create = Callable[[Api, str, str], TestResponse]  # (api, manager's token, customer's token) -> the 201


def _sign_up(api: Api, manager: str, customer: str) -> TestResponse:
    return api.client.post("/users/", json={"username": "dan", "password": PASSWORD})


def _create_product(api: Api, manager: str, customer: str) -> TestResponse:
    return api.call("POST", "/products/", manager, json={"name": "Tea", "price": "5.00", "stock": 9})


def _place_order(api: Api, manager: str, customer: str) -> TestResponse:
    product = _create_product(api, manager, customer).get_json()
    return api.call("POST", "/orders/", customer, json={"items": [{"product": product["id"], "quantity": 1}]})


def _register_webhook(api: Api, manager: str, customer: str) -> TestResponse:
    endpoint = {"url": "https://hooks.example.com/shop", "events": ["order.*"]}
    return api.call("POST", "/webhooks/", manager, json=endpoint)


# Every operation the OpenAPI document answers with 201: a new one fails the test below until it is here.
CREATED: dict[tuple[str, str], tuple[Create, str]] = {
    ("/users/", "post"): (_sign_up, "/users/{id}/"),
    ("/products/", "post"): (_create_product, "/products/{id}/"),
    ("/orders/", "post"): (_place_order, "/orders/{id}/"),
    ("/webhooks/", "post"): (_register_webhook, "/webhooks/{id}/"),
}
# Fields a later GET shows otherwise: an endpoint's secret is shown whole only in its 201.
SHOWN_ONCE = {("/webhooks/", "post"): {"secret"}}


def test_every_201_of_the_document_is_checked_here(client: FlaskClient) -> None:
    spec: dict[str, Any] = client.get("/api/schema/").get_json()
    created = {(path, method) for path, method, operation in operations(spec) if "201" in operation["responses"]}

    assert created == set(CREATED)
    for path, method in created:
        assert "Location" in spec["paths"][path][method]["responses"]["201"]["headers"], path


@pytest.mark.parametrize(("operation"), sorted(CREATED))
def test_a_201_locates_what_it_created(
    api: Api, manager_token: str, customer_token: str, operation: tuple[str, str]
) -> None:
    create, template = CREATED[operation]

    response = create(api, manager_token, customer_token)

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert response.headers["Location"] == template.format(id=created["id"])
    reader = customer_token if operation == ("/orders/", "post") else manager_token
    shown = api.call("GET", response.headers["Location"], reader).get_json()
    once = SHOWN_ONCE.get(operation, set())
    assert {k: v for k, v in shown.items() if k not in once} == {k: v for k, v in created.items() if k not in once}


def test_a_replayed_order_locates_the_first_one(api: Api, manager_token: str, customer_token: str) -> None:
    product = _create_product(api, manager_token, customer_token).get_json()
    body = {"items": [{"product": product["id"], "quantity": 1}]}
    headers = {"Idempotency-Key": "k-1"}

    first = api.call("POST", "/orders/", customer_token, json=body, headers=headers)
    again = api.call("POST", "/orders/", customer_token, json=body, headers=headers)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.headers["Location"] == again.headers["Location"] == f"/orders/{first.get_json()['id']}/"
