"""Every error is an RFC 9457 problem; every response carries the request id and safety headers."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any, NoReturn

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.fakes import PASSWORD

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response: TestResponse, status: int, path: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json(force=True)
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if path is not None:
        assert body["instance"] == path
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert 'File "' not in text
    return body


# Routing


@pytest.mark.parametrize("path", ["/nowhere", "/nowhere/", "/api/", "/products/1/extra/"])
def test_an_unknown_route_is_a_404_problem(api: Api, customer_token: str, path: str) -> None:
    assert_problem(api.call("GET", path, customer_token), 404, path)


@pytest.mark.parametrize("path", ["/orders/0/", "/orders/2147483648/", "/users/99999999999/", "/products/0/"])
def test_an_id_out_of_range_is_a_plain_404(api: Api, manager_token: str, path: str) -> None:
    body = assert_problem(api.call("GET", path, manager_token), 404, path)

    assert body["detail"] == "Nothing is found at this address."


def test_an_unknown_route_is_404_without_a_token_too(api: Api) -> None:
    assert_problem(api.client.get("/nowhere/"), 404, "/nowhere/")


def test_a_missing_trailing_slash_redirects_to_the_exact_path(api: Api, customer_token: str) -> None:
    response = api.call("GET", "/products", customer_token)

    assert response.status_code == 308
    assert response.headers["Location"].endswith("/products/")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/products/", {"GET", "POST"}),
        ("POST", "/products/1/", {"GET", "PUT", "PATCH", "DELETE"}),
        ("GET", "/api/token/", {"POST"}),
        ("POST", "/users/1/", {"GET", "PUT", "PATCH", "DELETE"}),
        ("POST", "/users/me/", {"GET", "PUT", "PATCH", "DELETE"}),
        ("GET", "/orders/1/cancel/", {"POST"}),
    ],
)
def test_a_wrong_method_is_a_405_problem_with_allow(
    api: Api, customer_token: str, method: str, path: str, allowed: set[str]
) -> None:
    response = api.call(method, path, customer_token)

    assert_problem(response, 405, path)
    advertised = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= advertised
    assert advertised - allowed <= {"HEAD", "OPTIONS"}


def test_an_unknown_route_is_404_whatever_the_body(api: Api) -> None:
    response = api.client.post("/nowhere/", data="plain text", content_type="text/plain")

    assert_problem(response, 404, "/nowhere/")


def test_a_wrong_method_is_405_whatever_the_body(api: Api, customer_token: str) -> None:
    response = api.call("POST", "/products/1/", customer_token, data="plain text", content_type="text/plain")

    assert_problem(response, 405, "/products/1/")
    assert "PATCH" in response.headers["Allow"]


# Bodies


def test_a_body_over_one_mebibyte_is_a_413_problem(api: Api, manager_token: str) -> None:
    body = '{"name": "' + "a" * (1024 * 1024) + '", "price": "1", "stock": 1}'

    response = api.call("POST", "/products/", manager_token, data=body, content_type="application/json")

    assert_problem(response, 413, "/products/")
    assert api.call("GET", "/products/", manager_token).get_json() == []


def test_a_large_body_without_a_token_is_also_413(api: Api) -> None:
    response = api.client.post("/users/", data="x" * (1024 * 1024 + 1), content_type="application/json")

    assert_problem(response, 413)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/html"]
)
def test_a_non_json_body_is_a_415_problem(api: Api, content_type: str) -> None:
    response = api.client.post(
        "/users/", data='{"username": "carol", "password": "correct-horse"}', content_type=content_type
    )

    assert_problem(response, 415, "/users/")
    assert api.client.post("/api/token/", json={"username": "carol", "password": PASSWORD}).status_code == 401


def test_a_non_json_body_on_an_authenticated_endpoint_is_415(api: Api, manager_token: str) -> None:
    response = api.call("POST", "/products/", manager_token, data="name=Tea", content_type="text/plain")

    assert_problem(response, 415, "/products/")


def test_a_json_body_with_a_charset_is_accepted(api: Api) -> None:
    response = api.client.post(
        "/users/",
        data=f'{{"username": "carol", "password": "{PASSWORD}"}}',
        content_type="application/json; charset=utf-8",
    )

    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("body", ['{"username": "carol",', "{'username': 'carol'}", "not json", '{"a": }'])
def test_malformed_json_is_a_400_problem(api: Api, body: str) -> None:
    response = api.client.post("/users/", data=body, content_type="application/json")

    problem = assert_problem(response, 400, "/users/")
    assert list(problem["errors"]) == ["body"]
    assert api.client.post("/api/token/", json={"username": "carol", "password": PASSWORD}).status_code == 401


@pytest.mark.parametrize("body", ["[]", "42", '"text"', "null"])
def test_a_json_body_that_is_not_an_object_is_400(api: Api, body: str) -> None:
    response = api.client.post("/api/token/", data=body, content_type="application/json")

    problem = assert_problem(response, 400, "/api/token/")
    assert list(problem["errors"]) == ["body"]


def test_an_item_that_is_not_an_object_is_400_naming_it(api: Api, customer_token: str) -> None:
    response = api.call("POST", "/orders/", customer_token, json={"items": [7]})

    problem = assert_problem(response, 400, "/orders/")
    assert list(problem["errors"]) == ["items.0"]


def test_a_missing_body_on_a_json_endpoint_is_400(api: Api) -> None:
    body = assert_problem(api.client.post("/api/token/"), 400, "/api/token/")

    assert "errors" in body


def test_an_unknown_json_field_is_a_400_naming_it(api: Api) -> None:
    response = api.client.post("/users/", json={"username": "carol", "password": PASSWORD, "admin": True})

    body = assert_problem(response, 400, "/users/")
    assert body["errors"] == {"admin": [body["errors"]["admin"][0]]}
    assert api.client.post("/api/token/", json={"username": "carol", "password": PASSWORD}).status_code == 401


def test_validation_errors_map_fields_to_lists_of_messages(api: Api, manager_token: str) -> None:
    response = api.call("POST", "/products/", manager_token, json={"name": "", "price": "1.234", "stock": -1})

    body = assert_problem(response, 400, "/products/")
    assert set(body["errors"]) == {"name", "price", "stock"}
    for messages in body["errors"].values():
        assert isinstance(messages, list)
        assert messages
        assert all(isinstance(m, str) for m in messages)


def test_nested_validation_errors_use_dotted_paths(api: Api, customer_token: str) -> None:
    response = api.call("POST", "/orders/", customer_token, json={"items": [{"product": 1}, {"quantity": 1}]})

    body = assert_problem(response, 400, "/orders/")
    assert set(body["errors"]) == {"items.0.quantity", "items.1.product"}


# Every kind of error is a problem


def test_401_403_404_409_are_problems(api: Api, customer_token: str, manager_token: str) -> None:
    assert_problem(api.client.get("/users/"), 401, "/users/")
    assert_problem(api.call("GET", "/users/", customer_token), 403, "/users/")
    assert_problem(api.call("GET", "/orders/7/", customer_token), 404, "/orders/7/")
    api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "1", "stock": 1})
    assert_problem(api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "1", "stock": 1}), 409)


def test_an_unexpected_error_is_a_500_problem_without_a_stack_trace(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> NoReturn:
        raise RuntimeError("secret internals")

    app.add_url_rule("/boom/", "boom", boom)
    client = app.test_client()

    response = client.get("/boom/", headers={"X-Request-ID": "trace-me-123"})

    body = assert_problem(response, 500, "/boom/")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert "trace-me-123" in body["detail"]
    assert response.headers["X-Request-ID"] == "trace-me-123"


# Headers


def test_every_response_has_a_request_id_and_nosniff(api: Api, customer_token: str) -> None:
    responses = [
        api.client.get("/products/"),
        api.call("GET", "/products/", customer_token),
        api.client.get("/nowhere/"),
        api.client.post("/api/token/", json={"username": "x", "password": "y"}),
        api.client.get("/api/schema/"),
        api.client.delete("/products/"),
    ]

    for response in responses:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", response.headers["X-Request-ID"])
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_request_ids_are_unique(api: Api) -> None:
    ids = {api.client.get("/nowhere/").headers["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5


def test_a_well_formed_request_id_is_echoed(api: Api) -> None:
    response = api.client.get("/nowhere/", headers={"X-Request-ID": "abc-123.DEF_4"})

    assert response.headers["X-Request-ID"] == "abc-123.DEF_4"


@pytest.mark.parametrize("incoming", ["has space", "x" * 65, "<script>", "a\tb"])
def test_a_hostile_request_id_is_replaced(api: Api, incoming: str) -> None:
    response = api.client.get("/nowhere/", headers={"X-Request-ID": incoming})

    assert response.headers["X-Request-ID"] != incoming
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", response.headers["X-Request-ID"])


def test_authenticated_responses_are_not_cached_by_shared_caches(api: Api, customer_token: str) -> None:
    for response in (
        api.call("GET", "/products/", customer_token),
        api.call("GET", "/orders/", customer_token),
        api.call("GET", "/users/", customer_token),
    ):
        cache_control = response.headers["Cache-Control"]
        assert "private" in cache_control or "no-store" in cache_control


def test_token_responses_are_not_stored(api: Api) -> None:
    api.signup("carol")

    response = api.client.post("/api/token/", json={"username": "carol", "password": PASSWORD})

    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_an_order_stuck_behind_a_lock_answers_503_and_writes_nothing(settings: Settings, manager_token: str) -> None:
    """Past DB_STATEMENT_TIMEOUT_MS the database gives up, the request fails cleanly, the worker lives on."""
    api = Api(create_app(replace(settings, db_statement_timeout_ms=200)).test_client())
    product = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "1", "stock": 3}).get_json()
    api.signup("dana")
    token = api.login("dana")["access"]
    engine = make_engine(settings.database_url)

    with SqlUnitOfWork(engine) as holder:  # another process's long write transaction
        holder.products.get_for_update([product["id"]])
        started = time.monotonic()
        response = api.call("POST", "/orders/", token, json={"items": [{"product": product["id"], "quantity": 1}]})
        waited = time.monotonic() - started

    body = assert_problem(response, 503, "/orders/")
    assert waited < 3  # the 200 ms deadline, not the 10 s default
    assert response.headers["Retry-After"] == "1"
    assert "nothing was changed" in body["detail"]
    assert api.call("GET", f"/products/{product['id']}/", token).get_json()["stock"] == 3
    assert api.call("GET", "/orders/", token).get_json() == []
    engine.dispose()
