"""Tokens: login, rotation with reuse detection, verify, revoke, and every way an access token is refused."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import jwt
import pytest
from werkzeug.test import TestResponse

from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.fakes import PASSWORD

SECRET = "x" * 48
PROBLEM = "application/problem+json"


def assert_unauthorized(response: TestResponse) -> None:
    assert response.status_code == 401, response.get_json()
    assert response.mimetype == PROBLEM
    assert response.get_json()["status"] == 401
    assert response.get_json()["title"] == "Unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def me(api: Api, token: str, user_id: int) -> TestResponse:
    return api.call("GET", f"/users/{user_id}/", token)


@pytest.fixture
def carol(api: Api) -> dict[str, Any]:
    user = api.signup("carol")
    return {"id": user["id"], **api.login("carol")}


# Login


def test_login_returns_an_access_and_a_refresh_token(api: Api, carol: dict[str, Any]) -> None:
    access = jwt.decode(carol["access"], SECRET, algorithms=["HS256"])
    refresh = jwt.decode(carol["refresh"], SECRET, algorithms=["HS256"])

    assert access["type"] == "access"
    assert refresh["type"] == "refresh"
    assert access["sub"] == refresh["sub"] == str(carol["id"])
    assert access["fam"] == refresh["fam"]
    assert me(api, carol["access"], carol["id"]).get_json()["username"] == "carol"


@pytest.mark.parametrize("minutes", [15, 5])
def test_token_answers_tell_the_type_and_the_access_tokens_lifetime(settings: Settings, minutes: int) -> None:
    api = Api(create_app(replace(settings, access_token_ttl=timedelta(minutes=minutes))).test_client())
    api.signup("dave")
    before = int(time.time())

    login = api.client.post("/api/token/", json={"username": "dave", "password": PASSWORD}).get_json()
    refreshed = api.client.post("/api/token/refresh/", json={"refresh": login["refresh"]}).get_json()

    for answer in (login, refreshed):
        assert (answer["token_type"], answer["expires_in"]) == ("Bearer", minutes * 60)
        expires = jwt.decode(answer["access"], SECRET, algorithms=["HS256"])["exp"]
        assert before + minutes * 60 <= expires <= int(time.time()) + minutes * 60


def test_login_with_a_wrong_password_or_an_unknown_user_gives_the_same_401(api: Api, carol: dict[str, Any]) -> None:
    wrong = api.client.post("/api/token/", json={"username": "carol", "password": "not-the-password"})
    unknown = api.client.post("/api/token/", json={"username": "nobody", "password": PASSWORD})

    assert_unauthorized(wrong)
    assert_unauthorized(unknown)
    assert wrong.get_json()["detail"] == unknown.get_json()["detail"]
    assert {k: v for k, v in wrong.get_json().items()} == {k: v for k, v in unknown.get_json().items()}


def test_login_needs_username_and_password(api: Api) -> None:
    response = api.client.post("/api/token/", json={"username": "carol"})

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert "password" in response.get_json()["errors"]


# Refresh and rotation


def test_refresh_rotates_the_refresh_token(api: Api, carol: dict[str, Any]) -> None:
    response = api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]})

    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()) == {"access", "refresh", "token_type", "expires_in"}
    assert response.get_json()["refresh"] != carol["refresh"]
    assert me(api, response.get_json()["access"], carol["id"]).status_code == 200
    again = api.client.post("/api/token/refresh/", json={"refresh": response.get_json()["refresh"]})
    assert again.status_code == 200, again.get_json()


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(api: Api, carol: dict[str, Any]) -> None:
    rotated = api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]}).get_json()

    reuse = api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]})

    assert_unauthorized(reuse)
    assert_unauthorized(api.client.post("/api/token/refresh/", json={"refresh": rotated["refresh"]}))
    assert_unauthorized(me(api, rotated["access"], carol["id"]))
    assert_unauthorized(me(api, carol["access"], carol["id"]))


def test_reuse_revokes_only_that_family(api: Api, carol: dict[str, Any]) -> None:
    other_login = api.login("carol")
    api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]})
    api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]})

    assert me(api, other_login["access"], carol["id"]).status_code == 200
    assert api.client.post("/api/token/refresh/", json={"refresh": other_login["refresh"]}).status_code == 200


def test_an_access_token_is_not_a_refresh_token(api: Api, carol: dict[str, Any]) -> None:
    assert_unauthorized(api.client.post("/api/token/refresh/", json={"refresh": carol["access"]}))


def test_refresh_with_garbage_is_401(api: Api) -> None:
    assert_unauthorized(api.client.post("/api/token/refresh/", json={"refresh": "not.a.jwt"}))


# Verify


def test_verify_accepts_a_valid_token(api: Api, carol: dict[str, Any]) -> None:
    for token in (carol["access"], carol["refresh"]):
        response = api.client.post("/api/token/verify/", json={"token": token})
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {}


def test_verify_refuses_an_invalid_or_revoked_token(api: Api, carol: dict[str, Any]) -> None:
    assert_unauthorized(api.client.post("/api/token/verify/", json={"token": "garbage"}))
    api.client.post("/api/token/revoke/", json={"refresh": carol["refresh"]})
    assert_unauthorized(api.client.post("/api/token/verify/", json={"token": carol["refresh"]}))
    assert_unauthorized(api.client.post("/api/token/verify/", json={"token": carol["access"]}))


def test_verify_refuses_a_refresh_token_that_was_rotated(api: Api, carol: dict[str, Any]) -> None:
    rotated = api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]})
    assert rotated.status_code == 200

    assert_unauthorized(api.client.post("/api/token/verify/", json={"token": carol["refresh"]}))
    assert api.client.post("/api/token/verify/", json={"token": rotated.get_json()["refresh"]}).status_code == 200


def test_verify_refuses_a_forged_token(api: Api, carol: dict[str, Any]) -> None:
    payload = jwt.decode(carol["access"], SECRET, algorithms=["HS256"])
    forged = jwt.encode(payload, "y" * 48, algorithm="HS256")

    assert_unauthorized(api.client.post("/api/token/verify/", json={"token": forged}))


# Revoke


def test_revoke_logs_out_the_refresh_and_access_tokens(api: Api, carol: dict[str, Any]) -> None:
    response = api.call("POST", "/api/token/revoke/", carol["access"], json={"refresh": carol["refresh"]})

    assert response.status_code == 204
    assert response.data == b""
    assert_unauthorized(api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]}))
    assert_unauthorized(me(api, carol["access"], carol["id"]))


def test_revoke_without_an_access_token_still_ends_the_family(api: Api, carol: dict[str, Any]) -> None:
    response = api.client.post("/api/token/revoke/", json={"refresh": carol["refresh"]})

    assert response.status_code == 204
    assert_unauthorized(api.client.post("/api/token/refresh/", json={"refresh": carol["refresh"]}))
    assert_unauthorized(me(api, carol["access"], carol["id"]))


def test_revoke_leaves_other_logins_alone(api: Api, carol: dict[str, Any]) -> None:
    other = api.login("carol")
    api.call("POST", "/api/token/revoke/", carol["access"], json={"refresh": carol["refresh"]})

    assert me(api, other["access"], carol["id"]).status_code == 200
    assert api.client.post("/api/token/refresh/", json={"refresh": other["refresh"]}).status_code == 200


def test_revoke_with_an_invalid_refresh_token_is_401(api: Api) -> None:
    assert_unauthorized(api.client.post("/api/token/revoke/", json={"refresh": "garbage"}))


# Access tokens refused


def test_a_protected_endpoint_without_a_token_is_401(api: Api) -> None:
    response = api.client.get("/products/")

    assert_unauthorized(response)
    assert "Authorization" in response.get_json()["detail"]


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Token abc", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c", "bearer"],
)
def test_a_malformed_authorization_header_is_401(api: Api, header: str) -> None:
    assert_unauthorized(api.client.get("/products/", headers={"Authorization": header}))


@pytest.mark.parametrize("header", ["Token abc", "Basic dXNlcjpwYXNz", "JWT a.b.c"])
def test_another_scheme_is_told_to_use_bearer(api: Api, carol: dict[str, Any], header: str) -> None:
    scheme = header.split()[0]
    response = api.client.get("/products/", headers={"Authorization": f"{scheme} {carol['access']}"})

    assert_unauthorized(response)
    assert response.get_json()["detail"] == "Use the Bearer scheme: Authorization: Bearer <access token>."


def test_a_refresh_token_is_not_an_access_token(api: Api, carol: dict[str, Any]) -> None:
    assert_unauthorized(me(api, carol["refresh"], carol["id"]))


def test_a_token_signed_with_another_key_is_401(api: Api, carol: dict[str, Any]) -> None:
    payload = jwt.decode(carol["access"], SECRET, algorithms=["HS256"])

    assert_unauthorized(me(api, jwt.encode(payload, "y" * 48, algorithm="HS256"), carol["id"]))


def test_an_unsigned_token_is_401(api: Api, carol: dict[str, Any]) -> None:
    payload = jwt.decode(carol["access"], SECRET, algorithms=["HS256"])
    unsigned = jwt.encode(payload, "", algorithm="none")  # no key: "none" signs nothing

    assert_unauthorized(me(api, unsigned, carol["id"]))
    assert_unauthorized(api.client.post("/api/token/verify/", json={"token": unsigned}))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_token_with_another_algorithm_is_401(api: Api, carol: dict[str, Any]) -> None:
    payload = jwt.decode(carol["access"], SECRET, algorithms=["HS256"])

    assert_unauthorized(me(api, jwt.encode(payload, SECRET, algorithm="HS512"), carol["id"]))


def test_a_token_with_missing_claims_is_401(api: Api, carol: dict[str, Any]) -> None:
    payload = jwt.decode(carol["access"], SECRET, algorithms=["HS256"])
    for claim in ("ver", "fam", "sub"):
        stripped = {k: v for k, v in payload.items() if k != claim}
        assert_unauthorized(me(api, jwt.encode(stripped, SECRET, algorithm="HS256"), carol["id"]))


def test_a_token_of_a_user_who_does_not_exist_is_401(api: Api, carol: dict[str, Any]) -> None:
    payload = jwt.decode(carol["access"], SECRET, algorithms=["HS256"])
    ghost = jwt.encode({**payload, "sub": "424242"}, SECRET, algorithm="HS256")

    assert_unauthorized(api.client.get("/products/", headers={"Authorization": f"Bearer {ghost}"}))


def test_an_expired_access_token_crafted_with_the_secret_is_401(api: Api, carol: dict[str, Any]) -> None:
    payload = jwt.decode(carol["access"], SECRET, algorithms=["HS256"])
    now = int(time.time())
    expired = jwt.encode({**payload, "iat": now - 3600, "nbf": now - 3600, "exp": now - 60}, SECRET, algorithm="HS256")

    response = me(api, expired, carol["id"])

    assert_unauthorized(response)
    assert "expired" in response.get_json()["detail"].lower()


def test_tokens_expire_with_the_configured_lifetime(settings: Settings) -> None:
    app = create_app(replace(settings, access_token_ttl=timedelta(seconds=-1), refresh_token_ttl=timedelta(seconds=-1)))
    client = app.test_client()
    assert client.post("/users/", json={"username": "dave", "password": PASSWORD}).status_code == 201
    tokens = client.post("/api/token/", json={"username": "dave", "password": PASSWORD}).get_json()

    assert_unauthorized(client.get("/products/", headers={"Authorization": f"Bearer {tokens['access']}"}))
    assert_unauthorized(client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]}))
    assert_unauthorized(client.post("/api/token/verify/", json={"token": tokens["access"]}))


def test_the_token_endpoints_need_no_access_token(api: Api, carol: dict[str, Any]) -> None:
    for path, body in (
        ("/api/token/", {"username": "carol", "password": PASSWORD}),
        ("/api/token/verify/", {"token": carol["access"]}),
        ("/api/token/refresh/", {"refresh": carol["refresh"]}),
    ):
        response = api.client.post(path, json=body)
        assert response.status_code == 200, (path, response.get_json())


PROTECTED = [
    ("GET", "/users/"),
    ("GET", "/users/1/"),
    ("PUT", "/users/1/"),
    ("DELETE", "/users/1/"),
    ("GET", "/products/"),
    ("POST", "/products/"),
    ("GET", "/products/1/"),
    ("PUT", "/products/1/"),
    ("PATCH", "/products/1/"),
    ("DELETE", "/products/1/"),
    ("GET", "/orders/"),
    ("POST", "/orders/"),
    ("GET", "/orders/1/"),
    ("POST", "/orders/1/cancel/"),
    ("POST", "/orders/1/fulfil/"),
    # Invalid queries too: the token is checked before any validation, so nothing about the schema leaks.
    ("GET", "/products/?page_size=101"),
    ("GET", "/products/?sort=nope"),
    ("GET", "/orders/?status=lost"),
    ("GET", "/users/?page=0"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_protected_operation_needs_an_access_token(
    api: Api, carol: dict[str, Any], method: str, path: str
) -> None:
    # An empty body is invalid for most of them: authentication must still come first.
    body: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}

    assert_unauthorized(api.call(method, path, **body))
    assert_unauthorized(api.call(method, path, carol["refresh"], **body))


def test_an_invalid_token_is_refused_even_when_signing_up_a_manager(api: Api, manager_token: str) -> None:
    response = api.call(
        "POST", "/users/", manager_token + "x", json={"username": "deputy", "password": PASSWORD, "is_manager": True}
    )

    assert response.status_code == 401
    assert api.client.post("/api/token/", json={"username": "deputy", "password": PASSWORD}).status_code == 401


@pytest.mark.parametrize(
    "path", ["/products/?page_size=1000", "/products/999999/", "/orders/?sort=nonsense", "/orders/999/"]
)
def test_a_revoked_token_is_told_so_before_any_other_problem_of_a_read(
    api: Api, carol: dict[str, Any], path: str
) -> None:
    """The reads judge a token's standing with their data; a read refused for its own reasons (a
    typo in the query, a missing product) still answers 401 first to a revoked token."""
    assert (
        api.call("POST", "/api/token/revoke/", carol["access"], json={"refresh": carol["refresh"]}).status_code == 204
    )

    response = api.call("GET", path, carol["access"])

    assert response.status_code == 401
