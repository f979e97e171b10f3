"""GET /users/?q=: managers find an account by a piece of its username, whatever its case."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.api.conftest import Api


def test_a_manager_finds_users_by_a_piece_of_their_username(api: Api, manager_token: str) -> None:
    for name in ("Annabel", "bob", "hannah", "carl"):
        api.signup(name)

    response = api.call("GET", "/users/?q=ANN", manager_token)

    assert response.status_code == 200
    assert [u["username"] for u in response.get_json()] == ["Annabel", "hannah"]
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


def test_like_wildcards_are_plain_characters_in_a_search(api: Api, manager_token: str) -> None:
    api.signup("ann_a")
    api.signup("annxa")

    response = api.call("GET", "/users/?q=n_a", manager_token)

    assert [u["username"] for u in response.get_json()] == ["ann_a"]


@pytest.mark.parametrize("q", ["", "x" * 151])
def test_an_empty_or_overlong_search_is_refused_by_field(api: Api, manager_token: str, q: str) -> None:
    response = api.call("GET", f"/users/?q={q}", manager_token)

    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["q"]


def test_customers_cannot_search_users(api: Api, customer_token: str) -> None:
    assert api.call("GET", "/users/?q=a", customer_token).status_code == 403


def test_the_search_is_documented(api: Api) -> None:
    operation = api.client.get("/api/schema/").get_json()["paths"]["/users/"]["get"]
    assert "q" in {p["name"] for p in operation["parameters"] if p["in"] == "query"}


def test_a_manager_lists_the_accounts_of_one_role(
    api: Api, manager_token: str, make_manager: Callable[[str], str]
) -> None:
    for name in ("Annabel", "bob"):
        api.signup(name)
    make_manager("deputy")

    customers = api.call("GET", "/users/?role=customer", manager_token)
    managers = api.call("GET", "/users/?role=manager&q=DEP", manager_token)

    assert [u["username"] for u in customers.get_json()] == ["Annabel", "bob"]
    assert json.loads(customers.headers["X-Pagination"])["total"] == 2
    assert [u["username"] for u in managers.get_json()] == ["deputy"]


def test_an_unknown_role_is_refused_by_field(api: Api, manager_token: str) -> None:
    response = api.call("GET", "/users/?role=admin", manager_token)

    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == ["role"]


def test_the_role_filter_is_documented_with_its_values(api: Api) -> None:
    operation = api.client.get("/api/schema/").get_json()["paths"]["/users/"]["get"]

    [role] = [p for p in operation["parameters"] if p["name"] == "role"]
    assert (role["in"], role["schema"]["enum"]) == ("query", ["customer", "manager"])
