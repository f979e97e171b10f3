"""The rules that once drifted between the API schemas and the domain, checked through HTTP: the
API answers them in the domain's words, on sign-up and on change alike."""

from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

from tests.api.conftest import Api
from tests.fakes import PASSWORD


def errors_of(response: TestResponse) -> dict[str, list[str]]:
    assert response.status_code == 400, response.get_json()
    errors: dict[str, list[str]] = response.get_json()["errors"]
    return errors


@pytest.mark.parametrize("username", ["carol\n", "\ncarol", "carol\r\n", "car ol"])
def test_a_username_with_a_newline_or_a_space_is_refused(api: Api, username: str) -> None:
    response = api.client.post("/users/", json={"username": username, "password": PASSWORD})

    assert list(errors_of(response)) == ["username"]
    assert api.client.post("/api/token/", json={"username": "carol", "password": PASSWORD}).status_code == 401


@pytest.mark.parametrize("phone", ["12", "123\n", "+1-800-FLOWERS", "1" * 33])
def test_the_phone_pattern_is_the_same_on_sign_up_and_on_change(api: Api, phone: str) -> None:
    signed_up = api.client.post("/users/", json={"username": "carol", "password": PASSWORD, "phone": phone})
    user = api.signup("dave")
    token = api.login("dave")
    changed = api.call("PUT", f"/users/{user['id']}/", token["access"], json={"phone": phone})

    assert errors_of(signed_up)["phone"] == errors_of(changed)["phone"]


def test_every_problem_of_a_sign_up_is_told_at_once(api: Api) -> None:
    response = api.client.post(
        "/users/", json={"username": "carol\n", "password": PASSWORD, "email": "nope", "age": 151, "phone": "x"}
    )

    assert set(errors_of(response)) == {"username", "email", "age", "phone"}
