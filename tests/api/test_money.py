"""Money by ISO 4217 minor units through HTTP, on SQLite and on PostgreSQL: each currency's own
decimals in and out (JPY none, USD 2, KWD 3), orders in them end to end, clear refusals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.conftest import database_env


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env(env={**database_env(database_url), "JWT_SECRET_KEY": "x" * 48}, var_dir=tmp_path)
    return replace(base, argon2_memory_kib=64, argon2_time_cost=1)


def create(api: Api, token: str, price: str, currency: str, name: str = "Tea") -> TestResponse:
    body = {"name": name, "price": price, "currency": currency, "stock": 10}
    return api.call("POST", "/products/", token, json=body)


def errors(response: TestResponse) -> dict[str, list[str]]:
    assert response.status_code == 400, response.get_data(as_text=True)
    found: dict[str, list[str]] = response.get_json()["errors"]
    return found


@pytest.mark.parametrize(
    ("price", "currency", "shown"),
    [
        ("10", "TWD", "10.00"),
        ("10.5", "USD", "10.50"),
        ("1500", "JPY", "1500"),
        ("1.235", "KWD", "1.235"),
        ("1.2", "BHD", "1.200"),
    ],
)
def test_a_price_is_shown_with_its_currencys_decimals(
    api: Api, manager_token: str, price: str, currency: str, shown: str
) -> None:
    created = create(api, manager_token, price, currency)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["price"] == shown
    assert api.call("GET", f"/products/{created.get_json()['id']}/", manager_token).get_json()["price"] == shown


@pytest.mark.parametrize(
    ("price", "currency", "field", "message"),
    [
        ("100.50", "JPY", "price", "JPY has no minor unit: give a whole amount."),
        ("1.2345", "KWD", "price", "KWD amounts have at most 3 decimals."),
        ("10.505", "USD", "price", "USD amounts have at most 2 decimals."),
        ("10", "XAU", "currency", "Must be an ISO 4217 currency code such as TWD or USD."),
        ("10", "XXX", "currency", "Must be an ISO 4217 currency code such as TWD or USD."),
    ],
)
def test_an_amount_its_currency_cannot_have_is_refused_clearly(
    api: Api, manager_token: str, price: str, currency: str, field: str, message: str
) -> None:
    assert errors(create(api, manager_token, price, currency)) == {field: [message]}


def test_a_new_currency_must_suit_the_amount_kept(api: Api, manager_token: str) -> None:
    tea = create(api, manager_token, "10.50", "USD").get_json()
    changed = api.call("PATCH", f"/products/{tea['id']}/", manager_token, json={"currency": "JPY"})
    assert errors(changed) == {"price": ["JPY has no minor unit: give a whole amount."]}
    whole = api.call("PATCH", f"/products/{tea['id']}/", manager_token, json={"currency": "JPY", "price": "1600"})
    assert (whole.status_code, whole.get_json()["price"]) == (200, "1600")


def test_price_filters_take_three_decimals(api: Api, manager_token: str) -> None:
    dinar = create(api, manager_token, "1.235", "KWD").get_json()
    create(api, manager_token, "1.24", "USD", name="Cake")

    def found(query: str) -> list[Any]:
        return [p["id"] for p in api.call("GET", f"/products/?{query}", manager_token).get_json()]

    assert found("min_price=1.234&max_price=1.235") == [dinar["id"]]
    assert found("price=1.235") == [dinar["id"]]
    assert errors(api.call("GET", "/products/?min_price=1.2345", manager_token)) == {
        "min_price": ["Must have at most 3 decimal places."]
    }


@pytest.mark.parametrize(
    ("price", "currency", "quantity", "total"), [("1.235", "KWD", 3, "3.705"), ("1500", "JPY", 2, "3000")]
)
def test_an_order_in_a_currency_of_three_or_no_decimals_end_to_end(
    api: Api, manager_token: str, price: str, currency: str, quantity: int, total: str
) -> None:
    product = create(api, manager_token, price, currency).get_json()
    api.signup("carol")
    token = api.login("carol")["access"]

    placed = api.call("POST", "/orders/", token, json={"items": [{"product": product["id"], "quantity": quantity}]})

    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert (order["currency"], order["total"]) == (currency, total)
    assert [(line["unit_price"], line["line_total"]) for line in order["items"]] == [(price, total)]
    assert api.call("GET", f"/orders/{order['id']}/", token).get_json() == order
    cancelled = api.call("POST", f"/orders/{order['id']}/cancel/", token)
    assert cancelled.get_json()["total"] == total
