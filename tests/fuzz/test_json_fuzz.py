"""Arbitrary JSON, and what only looks like JSON, sent to every operation that takes a body.

Lone surrogates and control characters, integers and floats of any size (NaN and Infinity too),
numbers no double holds, nesting far deeper than any body needs, bytes that are not UTF-8: every
answer is a success or a 4xx problem, never a 5xx. The operations come from the OpenAPI document,
so a new endpoint with a body is fuzzed without a line here. Anonymous, as a customer and as a
manager; bounded in examples, so `make test` stays fast.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shop.adapters.sql.migrations import upgrade
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.fakes import PASSWORD
from tests.support import use_cases

EXAMPLES = 25
PROBLEM = "application/problem+json"
ROLES = ("anonymous", "customer", "manager")
# Path ids that exist: product 1, order 1, webhook endpoint 1, and dave's account, nobody's own (a
# caller changes theirs through /users/me/ only). No delivery exists: its routes answer 404 or 400.
PATH_IDS = {"user_id": "3", "product_id": "1", "order_id": "1", "webhook_id": "1", "delivery_id": "1"}


def _app(url: str, var: Path) -> Flask:
    base = Settings.from_env(env={"DATABASE_URL": url, "JWT_SECRET_KEY": "f" * 48}, var_dir=var)
    # The per-address limit would soon answer every call with a 429: fuzz the rest.
    return create_app(replace(base, argon2_memory_kib=64, argon2_time_cost=1, ratelimit_per_address="100000/minute"))


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # with ids filled in
    fields: tuple[str, ...]  # the properties its body schema documents

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _operations() -> list[Operation]:
    """Every operation of the OpenAPI document that takes a request body."""
    document = _app("sqlite://", Path("/nonexistent")).test_client().get("/api/schema/").get_json()
    schemas = document["components"]["schemas"]
    found = []
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            properties = schemas[schema["$ref"].rsplit("/", 1)[1]].get("properties", {})
            path = re.sub(r"\{(\w+)\}", lambda m: PATH_IDS[m.group(1)], template)
            found.append(Operation(method.upper(), path, tuple(properties)))
    return found


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """A seeded stack on a SQLite file: a manager, two customers, two products, an order."""
    var = tmp_path_factory.mktemp("json-fuzz")
    url = f"sqlite:///{var / 'shop.db'}"
    upgrade(url)
    app = _app(url, var)
    use_cases(app).make_manager(username="boss", password=PASSWORD)
    client = app.test_client()
    for name in ("carol", "dave"):
        assert client.post("/users/", json={"username": name, "password": PASSWORD}).status_code == 201
    manager = _auth(_token(client, "boss"))
    for name in ("Tea", "Coffee"):
        product = {"name": name, "price": "5.00", "stock": 1000}
        assert client.post("/products/", json=product, headers=manager).status_code == 201
    order = {"items": [{"product": 1, "quantity": 1}]}
    assert client.post("/orders/", json=order, headers=_auth(_token(client, "carol"))).status_code == 201
    endpoint = {"url": "https://hooks.example.com/shop", "events": ["order.*"]}
    assert client.post("/webhooks/", json=endpoint, headers=manager).status_code == 201
    return app


def _token(client: FlaskClient, username: str) -> str:
    return str(client.post("/api/token/", json={"username": username, "password": PASSWORD}).get_json()["access"])


def caller(app: Flask, role: str) -> str:
    """A token of a new account of the role for each test (none for the anonymous caller): a body that
    changes one's own account (/users/me/) then spoils that test's token only."""
    if role == "anonymous":
        return ""
    username = f"{role}{next(_callers)}"
    if role == "manager":
        use_cases(app).make_manager(username=username, password=PASSWORD)
    else:
        use_cases(app).register_user(actor=None, username=username, password=PASSWORD)
    return _token(app.test_client(), username)


_callers = itertools.count(1)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass(frozen=True)
class Raw:
    """A number written as is: what no Python float or int prints as."""

    text: str


def encode(value: Any) -> str:
    """JSON text, strings with \\u escapes (a lone surrogate stays one), NaN and Infinity as Python writes them."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(item) for item in value) + "]"
    return json.dumps(value)


texts = st.text(st.characters(exclude_categories=()) | st.characters(categories=["Cs", "Cc"]), max_size=12)
numbers = (
    st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**64 + 2)
    | st.floats()
    | st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: Raw(str(d).replace("E", "e")))
    | st.sampled_from(["1e309", "-1e400", "1" + "0" * 400, "1.999999999999999999999", "-0", "1E2", "0.1e-400"]).map(Raw)
)
scalars = st.none() | st.booleans() | numbers | texts
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=12
)


def bodies(operation: Operation) -> st.SearchStrategy[bytes]:
    """Mostly the operation's own fields holding anything; also any JSON, very deep JSON, and bytes."""
    keys = st.sampled_from(operation.fields) | texts if operation.fields else texts
    shaped = st.dictionaries(keys, values, max_size=len(operation.fields) + 1).map(encode)
    deep = st.tuples(st.integers(20, 5000), st.sampled_from(["[", '{"a":'])).map(
        lambda nested: nested[1] * nested[0] + "1" + ("]" if nested[1] == "[" else "}") * nested[0]
    )
    return (
        shaped.map(lambda text: text.encode("utf-8", "surrogatepass"))
        | values.map(encode).map(lambda text: text.encode("utf-8", "surrogatepass"))
        | deep.map(str.encode)
        | st.binary(max_size=40)
    )


fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_every_body_gets_a_success_or_a_4xx_problem(operation: Operation, role: str, stack: Flask) -> None:
    client, token = stack.test_client(), caller(stack, role)

    @fuzz
    @given(body=bodies(operation))
    def send(body: bytes) -> None:
        response = client.open(
            operation.path,
            method=operation.method,
            data=body,
            content_type="application/json",
            headers=_auth(token),
        )
        assert response.status_code < 500, (body[:300], response.get_data(as_text=True)[:500])
        if response.status_code >= 400:
            assert response.mimetype == PROBLEM, (body[:300], response.status_code)

    send()


def test_every_operation_with_a_body_is_fuzzed() -> None:
    assert {str(operation) for operation in OPERATIONS} >= {
        "POST /api/token/",
        "POST /users/",
        "PUT /users/3/",
        "POST /products/",
        "PATCH /products/1/",
        "POST /orders/",
    }
