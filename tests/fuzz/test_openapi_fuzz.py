"""Schemathesis against the service's own OpenAPI document, as a customer and as a manager.

Bounded in examples so `make test` stays fast: no 5xx, every response documented and conforming.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from shop.adapters.sql.migrations import upgrade
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings

PASSWORD = "correct-horse-battery"
EXAMPLES = 25


def _login(client: Any, username: str) -> str:
    response = client.post("/api/token/", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return str(response.json["access"])


def seeded_app() -> Flask:
    """A real stack on a fresh SQLite file: a manager, a customer, two products and an order."""
    var = Path(tempfile.mkdtemp(prefix="shop-fuzz-"))
    url = f"sqlite:///{var / 'shop.db'}"
    upgrade(url)
    base = Settings.from_env(env={"DATABASE_URL": url, "JWT_SECRET_KEY": "f" * 48}, var_dir=var)
    app = create_app(replace(base, argon2_memory_kib=64, argon2_time_cost=1))
    container = app.container  # type: ignore[attr-defined]
    container.make_manager(username="boss", password=PASSWORD)
    client = app.test_client()
    assert client.post("/users/", json={"username": "carol", "password": PASSWORD}).status_code == 201
    manager, customer = _login(client, "boss"), _login(client, "carol")
    for name in ("Tea", "Coffee"):
        created = client.post(
            "/products/",
            json={"name": name, "price": "5.00", "stock": 100},
            headers={"Authorization": f"Bearer {manager}"},
        )
        assert created.status_code == 201
    order = client.post(
        "/orders/", json={"items": [{"product": 1, "quantity": 1}]}, headers={"Authorization": f"Bearer {customer}"}
    )
    assert order.status_code == 201
    app.config["FUZZ_TOKENS"] = {"manager": manager, "customer": customer}
    return app


APP = seeded_app()
# A well-formed request may still be refused for the state it finds: schemathesis' defaults, plus
# 412 (If-Match naming a state the resource is no longer in), which no generated request can know.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]
            }
        }
    }
)


def schema_as(role: str) -> Any:
    """The OpenAPI document, with every generated request authenticated as `role`."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", APP, config=CONFIG)

    @schema.auth()
    class Bearer:
        def get(self, case: Any, ctx: Any) -> str:
            return str(APP.config["FUZZ_TOKENS"][role])

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


as_customer = schema_as("customer")
as_manager = schema_as("manager")
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@as_customer.parametrize()
@fuzz
def test_every_operation_conforms_for_a_customer(case: Any) -> None:
    case.call_and_validate()


@as_manager.parametrize()
@fuzz
def test_every_operation_conforms_for_a_manager(case: Any) -> None:
    case.call_and_validate()
