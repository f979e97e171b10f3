"""Schemathesis against the service's own OpenAPI document, as a customer and as a manager.

Bounded in examples so `make test` stays fast: no 5xx, every response documented and conforming.
Schemathesis reads the document at collection, from an application that touches no disk (its
database would be opened on first use, and is never used); the requests go to a stack seeded once
per module, in pytest's temporary directory. One WSGI entry point stands for both (`Stack`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from shop.adapters.sql.migrations import upgrade
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.fakes import PASSWORD
from tests.support import use_cases

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiCase  # schemathesis defines it for type checkers only

EXAMPLES = 25
SECRET = "f" * 48


def _app(url: str, var: Path) -> Flask:
    base = Settings.from_env(env={"DATABASE_URL": url, "JWT_SECRET_KEY": SECRET}, var_dir=var)
    return create_app(replace(base, argon2_memory_kib=64, argon2_time_cost=1))


class Stack:
    """The application schemathesis calls: first one that only serves the document, then the
    seeded stack, once a test has asked for it."""

    def __init__(self) -> None:
        self.app = _app("sqlite://", Path("/nonexistent"))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.app(environ, start_response)


STACK = Stack()


def _login(client: FlaskClient, username: str) -> str:
    response = client.post("/api/token/", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access"])


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Flask, dict[str, str]]:
    """A real stack on a fresh SQLite file: a manager, a customer, two products and an order; and
    each role's access token."""
    var = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{var / 'shop.db'}"
    upgrade(url)
    app = _app(url, var)
    use_cases(app).make_manager(username="boss", password=PASSWORD)
    client = app.test_client()
    assert client.post("/users/", json={"username": "carol", "password": PASSWORD}).status_code == 201
    tokens = {"manager": _login(client, "boss"), "customer": _login(client, "carol")}
    for name in ("Tea", "Coffee"):
        created = client.post(
            "/products/",
            json={"name": name, "price": "5.00", "stock": 100},
            headers={"Authorization": f"Bearer {tokens['manager']}"},
        )
        assert created.status_code == 201
    order = client.post(
        "/orders/",
        json={"items": [{"product": 1, "quantity": 1}]},
        headers={"Authorization": f"Bearer {tokens['customer']}"},
    )
    assert order.status_code == 201
    STACK.app = app
    return app, tokens


# A well-formed request may still be refused for the state it finds: schemathesis' defaults, plus
# 412 (If-Match naming a state the resource is no longer in) and 422 (an Idempotency-Key used
# before with another body), which no generated request can know. An order naming a product that
# does not exist is a 400 naming the field (items.0.product), like any other bad item.
STATE_REFUSALS = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {"positive_data_acceptance": {"expected-statuses": STATE_REFUSALS}},
        "operations": [
            {
                "include-path": "/orders/",
                "include-method": "POST",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*STATE_REFUSALS, "400"]}},
            }
        ],
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", STACK, config=CONFIG)
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def call_as(role: str, case: OpenApiCase, seeded: tuple[Flask, dict[str, str]]) -> None:
    _app, tokens = seeded
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens[role]}"})


@schema.parametrize()
@fuzz
def test_every_operation_conforms_for_a_customer(case: OpenApiCase, seeded: tuple[Flask, dict[str, str]]) -> None:
    call_as("customer", case, seeded)


@schema.parametrize()
@fuzz
def test_every_operation_conforms_for_a_manager(case: OpenApiCase, seeded: tuple[Flask, dict[str, str]]) -> None:
    call_as("manager", case, seeded)
