"""Every JSON body is read by one strict parser: what is not plain JSON is a 400 naming the body,
never a 500, and numbers for money arrive exact."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shop.entrypoints.api.jsonfast import NUL_REFUSED
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.api.test_errors import assert_problem
from tests.conftest import database_env
from tests.console.conftest import Console
from tests.fakes import PASSWORD
from tests.support import use_cases

LONE_SURROGATE = b'"x\\ud800"'


def post(api: Api, path: str, body: bytes, token: str | None = None) -> Any:
    return api.call("POST", path, token, data=body, content_type="application/json")


def body_error(response: Any) -> str:
    problem = assert_problem(response, 400)
    assert list(problem["errors"]) == ["body"], problem
    [message] = problem["errors"]["body"]
    assert isinstance(message, str)
    return message


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/token/", b'{"username": "carol", "password": ' + LONE_SURROGATE + b"}"),
        ("/users/", b'{"username": "carol", "password": ' + LONE_SURROGATE + b"}"),
        ("/api/token/refresh/", b'{"refresh": ' + LONE_SURROGATE + b"}"),
        ("/api/token/verify/", b'{"token": "\\udc00"}'),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_the_body(api: Api, path: str, body: bytes) -> None:
    api.signup("carol")

    assert "surrogate" in body_error(post(api, path, body))
    assert api.client.post("/api/token/", json={"username": "carol", "password": PASSWORD}).status_code == 200


def test_a_lone_surrogate_in_a_product_is_a_400(api: Api, manager_token: str) -> None:
    body = b'{"name": "Tea \\ud83d", "price": "1.00", "stock": 1}'

    assert "surrogate" in body_error(post(api, "/products/", body, manager_token))


def test_bytes_that_are_not_utf8_are_a_400(api: Api) -> None:
    assert "UTF-8" in body_error(post(api, "/users/", b'{"username": "caf\xe9", "password": "x"}'))


def test_the_message_says_where_the_json_went_wrong(api: Api) -> None:
    message = body_error(post(api, "/users/", b'{\n  "username": "carol",\n  "password": }'))

    assert "line 3" in message
    assert "column" in message


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e309", b"-1e400"])
def test_numbers_json_does_not_have_are_a_400_naming_the_body(api: Api, manager_token: str, number: bytes) -> None:
    body = b'{"name": "Tea", "price": ' + number + b', "stock": 1}'

    body_error(post(api, "/products/", body, manager_token))
    assert api.call("GET", "/products/", manager_token).get_json() == []


@pytest.mark.parametrize("number", [b"18446744073709551616", b"-9223372036854775809", b"1" + b"0" * 5000])
def test_integers_beyond_64_bits_are_a_400_naming_the_body(api: Api, manager_token: str, number: bytes) -> None:
    body = b'{"name": "Tea", "price": "1.00", "stock": ' + number + b"}"

    assert "range" in body_error(post(api, "/products/", body, manager_token))


@pytest.mark.parametrize("depth", [33, 3000, 100_000])
def test_a_body_nested_deeper_than_32_levels_is_a_400(api: Api, depth: int) -> None:
    body = b'{"username": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    assert "deeper than 32" in body_error(post(api, "/users/", body))


def test_a_body_nested_32_levels_deep_is_read(api: Api) -> None:
    """Read, and then refused by the schema for what it holds: not by the parser."""
    response = post(api, "/users/", b'{"username": ' + b"[" * 31 + b"]" * 31 + b"}")

    problem = assert_problem(response, 400)
    assert "username" in problem["errors"]


def test_an_empty_body_is_missing_fields_not_invalid_json(api: Api) -> None:
    missing = assert_problem(api.client.post("/users/", data=b"", content_type="application/json"), 400)

    assert "username" in missing["errors"]


# Money in JSON numbers


def create_product(api: Api, token: str, price: bytes) -> Any:
    return post(api, "/products/", b'{"name": "Tea", "price": ' + price + b', "stock": 1}', token)


def test_a_price_with_more_decimals_than_a_float_keeps_is_refused_not_rounded(api: Api, manager_token: str) -> None:
    response = create_product(api, manager_token, b"1.999999999999999999999")

    problem = assert_problem(response, 400)
    assert problem["errors"] == {"price": ["TWD amounts have at most 2 decimals."]}
    assert api.call("GET", "/products/", manager_token).get_json() == []


@pytest.mark.parametrize(
    ("number", "price"),
    [(b"10.5", "10.50"), (b"12", "12.00"), (b"0.1", "0.10"), (b"99999999.99", "99999999.99"), (b"1.50e1", "15.00")],
)
def test_a_price_as_a_json_number_is_read_exactly(api: Api, manager_token: str, number: bytes, price: str) -> None:
    response = create_product(api, manager_token, number)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["price"] == price


def test_an_enormous_price_is_refused_for_its_size(api: Api, manager_token: str) -> None:
    problem = assert_problem(create_product(api, manager_token, b"1e308"), 400)

    assert list(problem["errors"]) == ["price"]


def test_a_price_update_as_a_json_number_is_read_exactly_too(api: Api, manager_token: str) -> None:
    product = create_product(api, manager_token, b'"1.00"').get_json()

    refused = api.call(
        "PATCH", f"/products/{product['id']}/", manager_token, data=b'{"price": 2.005}', content_type="application/json"
    )
    kept = api.call("GET", f"/products/{product['id']}/", manager_token).get_json()

    assert assert_problem(refused, 400)["errors"] == {"price": ["TWD amounts have at most 2 decimals."]}
    assert kept["price"] == "1.00"


def test_an_integer_where_a_number_with_decimals_was_read_stays_an_integer(api: Api, customer_token: str) -> None:
    """Decimals come only from fractions and exponents: an order's quantity 2 is an integer even when
    the body holds a fraction elsewhere."""
    body = b'{"items": [{"product": 1, "quantity": 2}, {"product": 1.5, "quantity": 1}]}'

    problem = assert_problem(post(api, "/orders/", body, customer_token), 400)

    assert list(problem["errors"]) == ["items.1.product"]


# NUL: no text of the service may hold it (PostgreSQL's text can't, and failed with a 500)


@pytest.fixture
def on_both(settings: Settings, database_url: str) -> Api:
    """The whole stack on SQLite, then on PostgreSQL."""
    pooler = database_env(database_url).get("DB_POOLER", "")
    app = create_app(replace(settings, database_url=database_url, db_pooler=pooler))
    use_cases(app).make_manager(username="boss", password=PASSWORD)
    return Api(app.test_client())


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/token/", b'{"username": "bo\\u0000ss", "password": "x"}', "username"),
        ("/users/", b'{"username": "carol", "password": "correct\\u0000horse"}', "password"),
        ("/users/", b'{"username": "carol", "password": "correct-horse", "\\u0000": 1}', "body"),
        ("/orders/", b'{"items": [{"product": 1, "quantity": 1}, {"product": "\\u0000"}]}', "items.1.product"),
    ],
)
def test_a_nul_character_in_a_body_is_a_400_naming_its_field(on_both: Api, path: str, body: bytes, field: str) -> None:
    problem = assert_problem(post(on_both, path, body, on_both.login("boss")["access"]), 400)
    assert problem["errors"] == {field: [NUL_REFUSED]}


def test_a_nul_character_in_a_product_name_is_a_400_naming_the_name(on_both: Api) -> None:
    token = on_both.login("boss")["access"]

    problem = assert_problem(
        post(on_both, "/products/", b'{"name": "Tea\\u0000", "price": "1", "stock": 1}', token), 400
    )
    assert problem["errors"] == {"name": [NUL_REFUSED]}


@pytest.mark.parametrize("query", ["/products/?q=%00", "/users/?q=te%00a", "/products/?sort=%00"])
def test_a_nul_character_in_a_query_is_a_400_naming_the_parameter(on_both: Api, query: str) -> None:
    token = on_both.login("boss")["access"]

    problem = assert_problem(on_both.call("GET", query, token), 400)

    assert list(problem["errors"]) == [query.split("?")[1].split("=")[0]]


def test_a_nul_character_in_a_console_form_or_query_is_refused(on_both: Api) -> None:
    console = Console(on_both.client)

    assert console.sign_in("bo\x00ss").status_code == 400
    assert console.sign_in("boss").status_code == 302
    assert console.get("/console/products/?q=%00").status_code == 400
    assert console.get("/console/customers/?q=%00").status_code == 400
