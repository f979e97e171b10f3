"""The whole stack over HTTP: Flask app, real SQL unit of work on a SQLite file, cheap argon2."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.fakes import PASSWORD
from tests.support import use_cases


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env(env={"DATABASE_URL": sqlite_url, "JWT_SECRET_KEY": "x" * 48}, var_dir=tmp_path)
    # Tests don't need expensive hashes; production defaults are argon2id at OWASP's minimum.
    return replace(base, argon2_memory_kib=64, argon2_time_cost=1)


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Api:
    """Small helpers over the test client: sign up, log in, and call with a bearer token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def signup(self, username: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        response = self.client.post("/users/", json={"username": username, "password": password, **extra})
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json() or {})

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.client.post("/api/token/", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return dict(response.get_json() or {})

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, headers=headers, **kwargs)


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def make_manager(app: Flask, api: Api) -> Callable[[str], str]:
    """Create a manager the way operators do (the CLI's use case) and return an access token."""

    def make(username: str = "boss") -> str:
        use_cases(app).make_manager(username=username, password=PASSWORD)
        return api.login(username)["access"]

    return make


@pytest.fixture
def manager_token(make_manager: Callable[[str], str]) -> str:
    return make_manager("boss")


@pytest.fixture
def customer_token(api: Api) -> str:
    api.signup("carol")
    return api.login("carol")["access"]
