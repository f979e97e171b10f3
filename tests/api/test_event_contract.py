"""The events' contract, docs/asyncapi.yaml: a valid AsyncAPI 3 document, naming every event the
service publishes and nothing else, and the messages the use cases write match it, their data
being exactly what the API shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from shop.application.messages import PING, TYPES, WEBHOOK_TYPES

from ..support import REPO, asyncapi_json_schema, container_of
from .conftest import Api

DOCUMENT = REPO / "docs" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(Path(DOCUMENT).read_text())
    return loaded


def payload_validator(document: dict[str, Any], message: str) -> jsonschema.Draft7Validator:
    schema = {"$ref": f"#/components/messages/{message}/payload", "components": document["components"]}
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def by_type(document: dict[str, Any]) -> dict[str, str]:
    """Routing key -> the message's key in components.messages."""
    return {message["name"]: key for key, message in document["components"]["messages"].items()}


def test_the_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(asyncapi_json_schema("3.0.0")).validate(document)


def test_it_names_every_event_the_service_publishes_and_nothing_else(document: dict[str, Any]) -> None:
    assert set(by_type(document)) == WEBHOOK_TYPES
    names = {key: message["name"] for key, message in document["components"]["messages"].items()}
    published = {names[ref["$ref"].rsplit("/", 1)[1]] for ref in document["channels"]["events"]["messages"].values()}
    delivered = {names[ref["$ref"].rsplit("/", 1)[1]] for ref in document["channels"]["webhooks"]["messages"].values()}
    assert published == set(TYPES.values())
    assert delivered == WEBHOOK_TYPES == published | {PING}
    channel = document["channels"]["events"]
    assert channel["address"] == "shop.events"
    assert channel["bindings"]["amqp"]["exchange"] == {
        "name": "shop.events",
        "type": "topic",
        "durable": True,
        "autoDelete": False,
        "vhost": "/",
    }


def test_the_data_schemas_have_the_fields_of_the_api_bodies(document: dict[str, Any], client: FlaskClient) -> None:
    api = client.get("/api/schema/").get_json()["components"]["schemas"]
    events = document["components"]["schemas"]
    assert set(events["order"]["properties"]) == set(api["Order"]["properties"])
    assert set(events["order"]["properties"]["items"]["items"]["properties"]) == set(api["OrderLine"]["properties"])
    assert set(events["product"]["properties"]) == set(api["Product"]["properties"])
    assert set(events["user"]["properties"]) < set(api["User"]["properties"])


def test_every_message_written_matches_its_schema_and_shows_what_the_api_shows(
    document: dict[str, Any], app: Flask, api: Api, manager_token: str
) -> None:
    api.signup("carol", email="carol@example.com")
    customer = api.login("carol")["access"]
    product = api.call(
        "POST", "/products/", manager_token, json={"name": "Tea", "price": "2.50", "stock": 9}
    ).get_json()
    changed = api.call("PATCH", f"/products/{product['id']}/", manager_token, json={"price": "3.00"}).get_json()
    order = api.call(
        "POST", "/orders/", customer, json={"items": [{"product": product["id"], "quantity": 2}]}
    ).get_json()
    shown_placed = api.call("GET", f"/orders/{order['id']}/", customer).get_json()
    cancelled = api.call("POST", f"/orders/{order['id']}/cancel/", customer).get_json()
    again = api.call(
        "POST", "/orders/", customer, json={"items": [{"product": product["id"], "quantity": 1}]}
    ).get_json()
    fulfilled = api.call("POST", f"/orders/{again['id']}/fulfil/", manager_token).get_json()
    last = api.call("GET", f"/products/{product['id']}/", manager_token).get_json()
    assert api.call("DELETE", f"/products/{product['id']}/", manager_token).status_code == 204

    with container_of(app).uow() as uow:
        written = [json.loads(entry.body) for entry in uow.outbox.pending(100)]

    messages = by_type(document)
    for body in written:
        payload_validator(document, messages[body["type"]]).validate(body)
    data = [(body["type"], body["data"]) for body in written]
    assert data == [
        ("user.registered", {"id": 1, "username": "boss"}),
        ("user.registered", {"id": 2, "username": "carol"}),
        ("product.created", product),
        ("product.changed", changed),
        ("order.placed", shown_placed),
        ("order.cancelled", cancelled),
        ("order.placed", {**fulfilled, "status": "placed", "updated_at": again["updated_at"], "fulfilled_at": None}),
        ("order.fulfilled", fulfilled),
        ("product.deleted", last),
    ]
    assert len({body["id"] for body in written}) == len(written)


def test_a_message_that_breaks_the_contract_is_caught(document: dict[str, Any]) -> None:
    """The check above can fail: a password hash in a user event, or an id that is no UUID."""
    user = {"id": "6d3c", "type": "user.registered", "occurred_at": "2026-11-30T12:00:00+00:00", "aggregate_id": 1}
    with pytest.raises(jsonschema.ValidationError):
        payload_validator(document, "userRegistered").validate(
            {
                **user,
                "id": "0b7f6c3e-52c4-4a29-8f63-3f0a2f6d1c11",
                "data": {"id": 1, "username": "a", "password_hash": "x"},
            }
        )
    with pytest.raises(jsonschema.ValidationError):
        payload_validator(document, "userRegistered").validate({**user, "data": {"id": 1, "username": "a"}})
