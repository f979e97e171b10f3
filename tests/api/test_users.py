"""Accounts: sign-up, roles, reading, changing and closing one's own account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.fakes import PASSWORD

PROBLEM = "application/problem+json"
USER_KEYS = {"id", "username", "email", "age", "phone", "role", "active"}


def login_status(api: Api, username: str, password: str = PASSWORD) -> int:
    return api.client.post("/api/token/", json={"username": username, "password": password}).status_code


# Sign-up


def test_signup_creates_a_customer(api: Api) -> None:
    response = api.client.post(
        "/users/",
        json={"username": "carol", "password": PASSWORD, "email": "carol@example.com", "age": 30, "phone": "+886 912"},
    )

    assert response.status_code == 201, response.get_json()
    assert set(response.get_json()) == USER_KEYS
    assert response.get_json()["username"] == "carol"
    assert response.get_json()["email"] == "carol@example.com"
    assert response.get_json()["age"] == 30
    assert response.get_json()["phone"] == "+886 912"
    assert response.get_json()["role"] == "customer"
    assert isinstance(response.get_json()["id"], int)


def test_signup_optional_fields_default_to_null(api: Api) -> None:
    user = api.signup("carol")

    assert user["email"] is None
    assert user["age"] is None
    assert user["phone"] is None
    assert user["role"] == "customer"


def test_signup_never_returns_the_password(api: Api) -> None:
    response = api.client.post("/users/", json={"username": "carol", "password": PASSWORD})

    body = response.get_data(as_text=True)
    assert "password" not in body
    assert PASSWORD not in body
    assert "argon2" not in body


def test_signup_with_is_manager_false_works_for_anyone(api: Api) -> None:
    assert api.signup("carol", is_manager=False)["role"] == "customer"


def test_anonymous_cannot_create_a_manager(api: Api) -> None:
    response = api.client.post("/users/", json={"username": "eve", "password": PASSWORD, "is_manager": True})

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert login_status(api, "eve") == 401


def test_a_customer_cannot_create_a_manager(api: Api, customer_token: str) -> None:
    response = api.call(
        "POST", "/users/", customer_token, json={"username": "eve", "password": PASSWORD, "is_manager": True}
    )

    assert response.status_code == 403
    assert login_status(api, "eve") == 401


def test_a_manager_can_create_a_manager(api: Api, manager_token: str) -> None:
    response = api.call(
        "POST", "/users/", manager_token, json={"username": "deputy", "password": PASSWORD, "is_manager": True}
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["role"] == "manager"
    token = api.login("deputy")["access"]
    assert api.call("GET", "/users/", token).status_code == 200


def test_a_manager_can_also_create_a_customer(api: Api, manager_token: str) -> None:
    response = api.call("POST", "/users/", manager_token, json={"username": "dan", "password": PASSWORD})

    assert response.status_code == 201
    assert response.get_json()["role"] == "customer"


def test_a_duplicate_username_is_409(api: Api) -> None:
    api.signup("carol")

    response = api.client.post("/users/", json={"username": "carol", "password": "another-password"})

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert "username" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "password",
    ["short", "carol", "CAROL", "1234567890123"],
    ids=["too-short", "same-as-username", "same-as-username-other-case", "all-digits"],
)
def test_password_policy(api: Api, password: str) -> None:
    response = api.client.post("/users/", json={"username": "carol", "password": password})

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert list(response.get_json()["errors"]) == ["password"]
    assert response.get_json()["errors"]["password"]


def test_a_password_equal_to_a_long_username_is_refused(api: Api) -> None:
    response = api.client.post("/users/", json={"username": "carolanne", "password": "carolanne"})

    assert response.status_code == 400
    assert "password" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "carol"}, "password"),
        ({"username": "carol", "password": PASSWORD, "email": "not-an-email"}, "email"),
        ({"username": "carol", "password": PASSWORD, "age": -1}, "age"),
        ({"username": "carol", "password": PASSWORD, "age": "30"}, "age"),
        ({"username": "carol", "password": PASSWORD, "phone": "call me"}, "phone"),
        ({"username": "carol", "password": PASSWORD, "role": "manager"}, "role"),
        ({"username": "bad name!", "password": PASSWORD}, "username"),
    ],
)
def test_signup_validation(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.client.post("/users/", json=body)

    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"]


# Listing


def test_managers_list_users_with_pagination(api: Api, manager_token: str) -> None:
    for name in ("ann", "bob", "cat"):
        api.signup(name)

    response = api.call("GET", "/users/?page=1&page_size=2", manager_token)

    assert response.status_code == 200
    assert [u["username"] for u in response.get_json()] == ["boss", "ann"]
    assert all(set(u) == USER_KEYS for u in response.get_json())
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 4
    assert pagination["total_pages"] == 2
    assert pagination["page"] == 1


def test_customers_cannot_list_users(api: Api, customer_token: str) -> None:
    response = api.call("GET", "/users/", customer_token)

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_listing_users_needs_a_token(api: Api) -> None:
    assert api.client.get("/users/").status_code == 401


# Reading


def test_a_customer_reads_their_own_account(api: Api) -> None:
    user = api.signup("carol", email="c@example.com")
    token = api.login("carol")["access"]

    response = api.call("GET", f"/users/{user['id']}/", token)

    assert response.status_code == 200
    assert response.get_json() == user


def test_a_customer_cannot_read_another_account(api: Api, customer_token: str) -> None:
    other = api.signup("dan")

    response = api.call("GET", f"/users/{other['id']}/", customer_token)

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_a_manager_reads_any_account(api: Api, manager_token: str) -> None:
    other = api.signup("dan")

    response = api.call("GET", f"/users/{other['id']}/", manager_token)

    assert response.status_code == 200
    assert response.get_json()["username"] == "dan"


def test_a_manager_reading_a_missing_account_gets_404(api: Api, manager_token: str) -> None:
    response = api.call("GET", "/users/999/", manager_token)

    assert response.status_code == 404
    assert response.mimetype == PROBLEM


# Changing


@pytest.fixture
def carol(api: Api) -> dict[str, Any]:
    user = api.signup("carol")
    return {"id": user["id"], **api.login("carol")}


def test_update_is_partial(api: Api, carol: dict[str, Any]) -> None:
    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={"email": "new@example.com", "age": 41})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email"] == "new@example.com"
    assert response.get_json()["age"] == 41
    assert response.get_json()["username"] == "carol"
    assert api.call("GET", f"/users/{carol['id']}/", carol["access"]).get_json()["age"] == 41


def test_null_clears_a_contact_field_and_an_omitted_one_stays(api: Api, carol: dict[str, Any]) -> None:
    path = f"/users/{carol['id']}/"
    api.call("PUT", path, carol["access"], json={"email": "c@example.com", "age": 41, "phone": "+886 2"})

    cleared = api.call("PATCH", path, carol["access"], json={"email": None, "phone": None})

    assert cleared.status_code == 200, cleared.get_json()
    assert {k: cleared.get_json()[k] for k in ("email", "age", "phone")} == {"email": None, "age": 41, "phone": None}
    assert api.call("PUT", path, carol["access"], json={"age": None}).get_json()["age"] is None


@pytest.mark.parametrize("field", ["username", "password"])
def test_null_is_no_username_nor_password(api: Api, carol: dict[str, Any], field: str) -> None:
    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={field: None})

    assert response.status_code == 400
    assert list(response.get_json()["errors"]) == [field]
    assert login_status(api, "carol") == 200


def test_update_with_an_empty_body_is_400(api: Api, carol: dict[str, Any]) -> None:
    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={})

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert "errors" in response.get_json()


def test_update_with_an_unknown_field_is_400(api: Api, carol: dict[str, Any]) -> None:
    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={"role": "manager"})

    assert response.status_code == 400
    assert "role" in response.get_json()["errors"]
    assert api.call("GET", f"/users/{carol['id']}/", carol["access"]).get_json()["role"] == "customer"


def test_renaming_keeps_the_tokens_and_changes_the_login(api: Api, carol: dict[str, Any]) -> None:
    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={"username": "caroline"})

    assert response.status_code == 200
    assert response.get_json()["username"] == "caroline"
    assert login_status(api, "caroline") == 200
    assert login_status(api, "carol") == 401
    assert api.call("GET", f"/users/{carol['id']}/", carol["access"]).status_code == 200


@pytest.mark.parametrize("variant", ["Carol", "CAROL"])
def test_a_username_differing_only_in_case_is_taken_and_logs_in_the_same_account(api: Api, variant: str) -> None:
    carol = api.signup("carol")

    taken = api.client.post("/users/", json={"username": variant, "password": "another-password"})
    tokens = api.login(variant)

    assert taken.status_code == 409
    assert "username" in taken.get_json()["errors"]
    assert api.call("GET", f"/users/{carol['id']}/", tokens["access"]).get_json()["username"] == "carol"


def test_renaming_to_a_taken_username_is_409(api: Api, carol: dict[str, Any]) -> None:
    api.signup("dan")

    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={"username": "dan"})

    assert response.status_code == 409
    assert "username" in response.get_json()["errors"]


def test_changing_the_password_revokes_every_token(api: Api, carol: dict[str, Any]) -> None:
    second = api.login("carol")

    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={"password": "a-brand-new-secret"})

    assert response.status_code == 200
    assert "password" not in response.get_json()
    for session in (carol, second):
        assert api.call("GET", f"/users/{carol['id']}/", session["access"]).status_code == 401
        assert api.client.post("/api/token/refresh/", json={"refresh": session["refresh"]}).status_code == 401
    assert login_status(api, "carol") == 401
    assert login_status(api, "carol", "a-brand-new-secret") == 200


def test_a_new_password_follows_the_policy(api: Api, carol: dict[str, Any]) -> None:
    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={"password": "12345678"})

    assert response.status_code == 400
    assert "password" in response.get_json()["errors"]
    assert login_status(api, "carol") == 200


def test_a_new_password_may_not_equal_the_username(api: Api, carol: dict[str, Any]) -> None:
    response = api.call("PUT", f"/users/{carol['id']}/", carol["access"], json={"password": "Carol"})

    assert response.status_code == 400
    assert "password" in response.get_json()["errors"]


def test_a_customer_cannot_change_another_account(api: Api, carol: dict[str, Any]) -> None:
    other = api.signup("dan")

    response = api.call("PUT", f"/users/{other['id']}/", carol["access"], json={"email": "x@example.com"})

    assert response.status_code == 403


def test_a_manager_cannot_change_another_account(api: Api, manager_token: str) -> None:
    other = api.signup("dan")

    response = api.call("PUT", f"/users/{other['id']}/", manager_token, json={"email": "x@example.com"})

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


# Closing


def test_deleting_ones_account_ends_logins_and_tokens(api: Api, carol: dict[str, Any]) -> None:
    response = api.call("DELETE", f"/users/{carol['id']}/", carol["access"])

    assert response.status_code == 204
    assert response.data == b""
    assert login_status(api, "carol") == 401
    assert api.call("GET", "/products/", carol["access"]).status_code == 401
    assert api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]}).status_code == 401
    assert api.client.post("/api/token/verify/", json={"token": carol["access"]}).status_code == 401


def test_a_manager_still_reads_a_closed_account(api: Api, carol: dict[str, Any], manager_token: str) -> None:
    open_account = api.call("GET", f"/users/{carol['id']}/", manager_token).get_json()
    api.call("DELETE", f"/users/{carol['id']}/", carol["access"])

    closed = api.call("GET", f"/users/{carol['id']}/", manager_token)

    assert closed.status_code == 200
    assert (open_account["active"], closed.get_json()["active"]) == (True, False)
    assert closed.get_json() == open_account | {"active": False}


def test_closed_accounts_are_listed_only_when_asked(api: Api, carol: dict[str, Any], manager_token: str) -> None:
    api.signup("dan")
    api.call("DELETE", f"/users/{carol['id']}/", carol["access"])

    default = api.call("GET", "/users/", manager_token)
    closed = api.call("GET", "/users/?active=false", manager_token)
    active = api.call("GET", "/users/?active=true", manager_token)

    assert [u["username"] for u in default.get_json()] == ["boss", "dan"] == [u["username"] for u in active.get_json()]
    assert [(u["username"], u["active"]) for u in closed.get_json()] == [("carol", False)]
    assert json.loads(closed.headers["X-Pagination"])["total"] == 1
    assert api.call("GET", "/users/?active=maybe", manager_token).status_code == 400


def test_orders_of_a_deleted_account_stay_visible_to_managers(
    api: Api, carol: dict[str, Any], manager_token: str
) -> None:
    product = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "5", "stock": 9}).get_json()
    order = api.call("POST", "/orders/", carol["access"], json={"items": [{"product": product["id"], "quantity": 2}]})
    assert order.status_code == 201

    api.call("DELETE", f"/users/{carol['id']}/", carol["access"])

    seen = api.call("GET", f"/orders/{order.get_json()['id']}/", manager_token)
    assert seen.status_code == 200
    assert seen.get_json()["user"] == carol["id"]
    assert seen.get_json()["total"] == "10.00"
    assert [o["id"] for o in api.call("GET", "/orders/", manager_token).get_json()] == [order.get_json()["id"]]


def test_a_customer_cannot_delete_another_account(api: Api, carol: dict[str, Any]) -> None:
    other = api.signup("dan")

    response = api.call("DELETE", f"/users/{other['id']}/", carol["access"])

    assert response.status_code == 403
    assert login_status(api, "dan") == 200


def test_a_manager_cannot_delete_another_account(api: Api, manager_token: str) -> None:
    other = api.signup("dan")

    response = api.call("DELETE", f"/users/{other['id']}/", manager_token)

    assert response.status_code == 403
    assert login_status(api, "dan") == 200


def test_account_changes_honour_if_match(api: Api, carol: dict[str, Any]) -> None:
    path = f"/users/{carol['id']}/"
    etag = api.call("GET", path, carol["access"]).headers["ETag"]
    changed = api.call("PUT", path, carol["access"], json={"age": 30}, headers={"If-Match": etag})

    outdated = api.call("PUT", path, carol["access"], json={"age": 31}, headers={"If-Match": etag})
    not_deleted = api.call("DELETE", path, carol["access"], headers={"If-Match": etag})

    assert changed.status_code == 200, changed.get_json()
    assert (outdated.status_code, not_deleted.status_code) == (412, 412)
    assert api.call("GET", path, carol["access"]).get_json()["age"] == 30
    assert (
        api.call(
            "PUT", path, carol["access"], json={"age": 32}, headers={"If-Match": changed.headers["ETag"]}
        ).status_code
        == 200
    )


# PATCH and /users/me/


def test_patch_is_a_partial_update_like_put(api: Api, carol: dict[str, Any]) -> None:
    path = f"/users/{carol['id']}/"
    etag = api.call("GET", path, carol["access"]).headers["ETag"]

    patched = api.call("PATCH", path, carol["access"], json={"age": 41}, headers={"If-Match": etag})
    outdated = api.call("PATCH", path, carol["access"], json={"age": 42}, headers={"If-Match": etag})

    assert patched.status_code == 200, patched.get_json()
    assert (patched.get_json()["age"], patched.get_json()["username"]) == (41, "carol")
    assert outdated.status_code == 412
    assert patched.headers["ETag"] == api.call("GET", path, carol["access"]).headers["ETag"]


def test_me_is_ones_own_account(api: Api, carol: dict[str, Any], manager_token: str) -> None:
    by_id = api.call("GET", f"/users/{carol['id']}/", carol["access"])

    mine = api.call("GET", "/users/me/", carol["access"])
    managers = api.call("GET", "/users/me/", manager_token)

    assert mine.status_code == 200
    assert mine.get_json() == by_id.get_json()
    assert mine.headers["ETag"] == by_id.headers["ETag"]
    assert (
        api.call("GET", "/users/me/", carol["access"], headers={"If-None-Match": by_id.headers["ETag"]}).status_code
        == 304
    )
    assert managers.get_json()["username"] == "boss"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_me_changes_ones_own_account_under_if_match(api: Api, carol: dict[str, Any], method: str) -> None:
    etag = api.call("GET", f"/users/{carol['id']}/", carol["access"]).headers["ETag"]

    changed = api.call(method, "/users/me/", carol["access"], json={"age": 30}, headers={"If-Match": etag})
    outdated = api.call(method, "/users/me/", carol["access"], json={"age": 31}, headers={"If-Match": etag})

    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["id"] == carol["id"]
    assert outdated.status_code == 412
    assert api.call("GET", f"/users/{carol['id']}/", carol["access"]).get_json()["age"] == 30


def test_me_closes_ones_own_account(api: Api, carol: dict[str, Any]) -> None:
    stale = api.call("DELETE", "/users/me/", carol["access"], headers={"If-Match": '"not-the-tag"'})
    closed = api.call("DELETE", "/users/me/", carol["access"])

    assert (stale.status_code, closed.status_code) == (412, 204)
    assert login_status(api, "carol") == 401
    assert api.call("GET", "/users/me/", carol["access"]).status_code == 401


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_me_needs_a_token(api: Api, method: str) -> None:
    response = api.client.open("/users/me/", method=method, json={"age": 3})

    assert response.status_code == 401
    assert response.mimetype == PROBLEM
