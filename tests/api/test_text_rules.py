"""The text rules through HTTP, on SQLite and on PostgreSQL: what a client sends or searches with
control characters is a 400 naming the field (PostgreSQL answered 500 to a NUL), names are one
name whatever their case, width or invisible characters, and search matches alike on both."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import TestResponse

from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.conftest import database_env
from tests.fakes import PASSWORD

CONTROLS = ["bad\x00name", "bell\x07", "\x1b[31mred", "del\x7f", "c1\x85"]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env(env={**database_env(database_url), "JWT_SECRET_KEY": "x" * 48}, var_dir=tmp_path)
    return replace(base, argon2_memory_kib=64, argon2_time_cost=1)


def refused(response: TestResponse, field: str) -> list[str]:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    errors: dict[str, list[str]] = response.get_json()["errors"]
    assert list(errors) == [field]
    return errors[field]


def create(api: Api, token: str, name: str, **extra: Any) -> TestResponse:
    return api.call("POST", "/products/", token, json={"name": name, "price": "10", "stock": 1, **extra})


@pytest.mark.parametrize("name", CONTROLS)
def test_a_product_name_with_a_control_character_is_a_400_naming_the_field(
    api: Api, manager_token: str, name: str
) -> None:
    (message,) = refused(create(api, manager_token, name), "name")
    assert f"U+{ord(next(c for c in name if not c.isprintable())):04X}" in message
    tea = create(api, manager_token, "Tea").get_json()
    refused(api.call("PATCH", f"/products/{tea['id']}/", manager_token, json={"name": name}), "name")
    assert api.call("GET", "/products/", manager_token).get_json() == [tea]


@pytest.mark.parametrize("path", ["/products/", "/users/"])
def test_a_search_with_a_nul_is_a_400_naming_q(api: Api, manager_token: str, path: str) -> None:
    refused(api.call("GET", f"{path}?q=a%00b", manager_token), "q")
    refused(api.call("GET", f"{path}?q=%1B%5B31m", manager_token), "q")


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b"])
def test_a_login_name_with_a_control_character_is_a_400(api: Api, control: str) -> None:
    api.signup("carol")
    refused(api.client.post("/api/token/", json={"username": f"car{control}ol", "password": PASSWORD}), "username")


def test_a_login_password_is_only_verified(api: Api) -> None:
    api.signup("carol")
    assert api.client.post("/api/token/", json={"username": "carol", "password": "pass\x07word"}).status_code == 401


@pytest.mark.parametrize(
    ("field", "value"), [("username", "car\x00ol"), ("password", "pass\x00word-long"), ("email", "c\x00@example.com")]
)
def test_sign_up_refuses_control_characters_in_every_field(api: Api, field: str, value: str) -> None:
    body = {"username": "carol", "password": PASSWORD, field: value}
    assert "U+0000" in " ".join(refused(api.client.post("/users/", json=body), field))


def test_usernames_of_any_script_are_accepted_and_the_rule_says_so(api: Api) -> None:
    chen = api.signup("\u9673\u5c0f\u660e")
    assert chen["username"] == "\u9673\u5c0f\u660e"
    assert api.login("\u9673\u5c0f\u660e")["access"]
    (message,) = refused(api.client.post("/users/", json={"username": "a b", "password": PASSWORD}), "username")
    assert message == "1 to 150 characters: letters, digits and @ . + - _ (any script)."


@pytest.mark.parametrize("variant", ["\u00c9MILE", "e\u0301mile", "\u00e9mile\u200b"])
def test_a_username_is_one_name_whatever_its_case_or_invisible_characters(api: Api, variant: str) -> None:
    api.signup("\u00e9mile")
    taken = api.client.post("/users/", json={"username": variant, "password": PASSWORD})
    assert taken.status_code == 409
    assert api.login(variant)["access"]


@pytest.mark.parametrize("variant", ["MATCHA", "Matcha\u200b", "\uff2d\uff41\uff54\uff43\uff48\uff41"])
def test_product_names_are_one_name_whatever_their_case_width_or_invisible_characters(
    api: Api, manager_token: str, variant: str
) -> None:
    assert create(api, manager_token, "Matcha").status_code == 201
    assert create(api, manager_token, variant).status_code == 409


def test_a_name_is_stored_without_its_invisible_characters(api: Api, manager_token: str) -> None:
    assert create(api, manager_token, "\u202eMatcha\u200b").get_json()["name"] == "Matcha"


def test_search_matches_alike_on_every_database(api: Api, manager_token: str) -> None:
    for name in ("Caf\u00e9 cr\u00e8me", "Stra\u00dfe", "Tea"):
        assert create(api, manager_token, name).status_code == 201

    def found(q: str) -> list[str]:
        return [p["name"] for p in api.call("GET", f"/products/?q={q}", manager_token).get_json()]

    assert found("CAF%C3%89") == ["Caf\u00e9 cr\u00e8me"]
    assert found("strasse") == ["Stra\u00dfe"]
    assert found("%25") == []


def test_a_sort_with_a_trailing_line_break_is_a_400(api: Api, manager_token: str) -> None:
    refused(api.call("GET", "/products/?sort=price%0A", manager_token), "sort")


def test_headers_read_as_text_refuse_control_characters(api: Api, manager_token: str) -> None:
    request_id = api.call("GET", "/products/", manager_token, headers={"X-Request-ID": "abc\x7f"})
    assert request_id.status_code == 200 and request_id.headers["X-Request-ID"] != "abc\x7f"
    customer = api.signup("carol")
    token = api.login("carol")["access"]
    order = api.call(
        "POST", "/orders/", token, json={"items": [{"product": 1, "quantity": 1}]}, headers={"Idempotency-Key": "k\x00"}
    )
    assert customer["id"] and refused(order, "Idempotency-Key")


def test_a_request_id_with_a_final_line_break_is_replaced(api: Api) -> None:
    answer = api.client.get("/health/live", environ_base={"HTTP_X_REQUEST_ID": "abc\n"})
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] not in {"abc", "abc\n"}


def test_failed_logins_under_variants_of_one_name_share_one_count(settings: Settings) -> None:
    api = Api(create_app(replace(settings, ratelimit_login_failures="3 per minute")).test_client())
    api.signup("carol")

    attempts = [
        api.client.post("/api/token/", json={"username": variant, "password": "wrong-password"}).status_code
        for variant in ("carol", "CAROL", "carol\u200b", "\uff43arol")
    ]

    assert attempts == [401, 401, 401, 429]


def test_an_order_filter_is_read_by_the_text_rules_too(api: Api, manager_token: str) -> None:
    refused(api.call("GET", "/orders/?sort=total%0A", manager_token), "sort")
    refused(api.call("GET", "/orders/?customer=car%07ol", manager_token), "customer")
    api.signup("\u00e9mile")
    assert api.call("GET", "/orders/?customer=%C3%89MILE", manager_token).status_code == 200
