"""/webhooks/ over HTTP: managers only, the secret shown once, problem+json for bad input, the
delivery log with its attempts, ping and redeliver, and the OpenAPI document."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import yaml
from dependency_injector import providers
from flask import Flask
from standardwebhooks.webhooks import Webhook

from shop.application.messages import WEBHOOK_TYPES
from shop.application.ports.paging import Page
from shop.application.webhooks import Deliverer
from shop.domain.webhooks import Answer
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.fakes import FixedResolver, ScriptedSender
from tests.support import REPO, container_of, use_cases

from .conftest import Api
from .test_event_contract import payload_validator

HOOK = {"url": "https://hooks.example.com/shop", "events": ["order.*", "product.deleted"], "description": "ERP"}


@pytest.fixture(autouse=True)
def resolver(app: Flask) -> FixedResolver:
    """No DNS in these tests: names resolve as FixedResolver says."""
    fixed = FixedResolver(hooks_example_com=["93.184.216.34"], inside_example_com=["10.0.0.8"])
    container_of(app).resolver.override(providers.Object(fixed))
    return fixed


def create(api: Api, token: str, **body: Any) -> dict[str, Any]:
    response = api.call("POST", "/webhooks/", token, json={**HOOK, **body})
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def test_a_manager_registers_an_endpoint_and_sees_its_secret_once(api: Api, manager_token: str) -> None:
    created = create(api, manager_token)

    assert set(created) == {"id", "url", "events", "description", "enabled", "disabled_reason", "secret", "created_at"}
    assert (created["url"], created["events"], created["description"], created["enabled"]) == (
        HOOK["url"],
        ["order.*", "product.deleted"],
        "ERP",
        True,
    )
    assert created["secret"].startswith("whsec_")
    Webhook(created["secret"])  # the reference library takes it
    shown = api.call("GET", f"/webhooks/{created['id']}/", manager_token).get_json()
    listed = api.call("GET", "/webhooks/", manager_token)
    assert shown["secret"] == f"whsec_…{created['secret'][-4:]}"
    assert listed.get_json() == [shown]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1


def test_customers_and_strangers_are_refused(api: Api, manager_token: str, customer_token: str) -> None:
    created = create(api, manager_token)
    for method, path in [
        ("POST", "/webhooks/"),
        ("GET", "/webhooks/"),
        ("GET", f"/webhooks/{created['id']}/"),
        ("POST", f"/webhooks/{created['id']}/rotate-secret/"),
        ("POST", f"/webhooks/{created['id']}/ping/"),
        ("GET", f"/webhooks/{created['id']}/deliveries/"),
    ]:
        kwargs: dict[str, Any] = {"json": HOOK} if path == "/webhooks/" and method == "POST" else {}
        assert api.call(method, path, customer_token, **kwargs).status_code == 403, (method, path)
        assert api.call(method, path, None, **kwargs).status_code == 401, (method, path)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["order.shipped"]}, "events"),
        ({"events": []}, "events"),
        ({"events": "order.*"}, "events"),
        ({"url": "ftp://hooks.example.com/"}, "url"),
        ({"url": "http://169.254.169.254/latest/"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/"}, "url"),
        ({"url": "http://127.0.0.1:9000/"}, "url"),
        ({"url": "https://inside.example.com/"}, "url"),  # resolves to 10.0.0.8
        ({"description": "x" * 501}, "description"),
        ({"secret": "whsec_mine"}, "secret"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    api: Api, manager_token: str, body: dict[str, Any], field: str
) -> None:
    response = api.call("POST", "/webhooks/", manager_token, json={**HOOK, **body})

    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert field in response.get_json()["errors"], response.get_json()


def test_every_event_type_of_the_asyncapi_document_is_taken(api: Api, manager_token: str) -> None:
    created = create(api, manager_token, events=sorted(WEBHOOK_TYPES))
    assert set(created["events"]) == WEBHOOK_TYPES


def test_patch_changes_fields_and_disabling_then_enabling_works(api: Api, manager_token: str) -> None:
    created = create(api, manager_token)
    path = f"/webhooks/{created['id']}/"

    changed = api.call("PATCH", path, manager_token, json={"events": ["user.registered"], "enabled": False})
    assert changed.status_code == 200
    assert (changed.get_json()["events"], changed.get_json()["enabled"]) == (["user.registered"], False)
    assert changed.get_json()["disabled_reason"] == "manager"
    enabled = api.call("PATCH", path, manager_token, json={"enabled": True}).get_json()
    assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)
    assert api.call("PATCH", path, manager_token, json={}).status_code == 400
    assert api.call("PATCH", path, manager_token, json={"enabled": "yes"}).status_code == 400
    refused = api.call("PATCH", path, manager_token, json={"url": "https://inside.example.com/"})
    assert refused.status_code == 400 and "url" in refused.get_json()["errors"]
    assert api.call("PATCH", "/webhooks/999/", manager_token, json={"enabled": True}).status_code == 404


def test_rotation_shows_the_new_secret_once(api: Api, manager_token: str) -> None:
    created = create(api, manager_token)
    rotated = api.call("POST", f"/webhooks/{created['id']}/rotate-secret/", manager_token)

    assert rotated.status_code == 200
    assert rotated.get_json()["secret"].startswith("whsec_")
    assert rotated.get_json()["secret"] != created["secret"]
    shown = api.call("GET", f"/webhooks/{created['id']}/", manager_token).get_json()
    assert shown["secret"] == f"whsec_…{rotated.get_json()['secret'][-4:]}"


def test_ping_queues_one_delivery_shown_in_the_log_and_redelivered(app: Flask, api: Api, manager_token: str) -> None:
    created = create(api, manager_token)
    ping = api.call("POST", f"/webhooks/{created['id']}/ping/", manager_token)
    assert ping.status_code == 202
    delivery = ping.get_json()
    assert (delivery["event_type"], delivery["status"], delivery["attempts"]) == ("webhook.ping", "pending", [])

    deliver_once(app, Answer(500, duration_ms=12, body=b"busy"))
    log = api.call("GET", f"/webhooks/{created['id']}/deliveries/", manager_token)
    [entry] = log.get_json()
    assert entry["status"] == "retrying" and entry["next_attempt_at"] is not None
    [attempt] = entry["attempts"]
    assert (attempt["status_code"], attempt["error"], attempt["duration_ms"], attempt["response_body"]) == (
        500,
        None,
        12,
        "busy",
    )
    again = api.call("POST", f"/webhooks/{created['id']}/deliveries/{entry['id']}/redeliver/", manager_token)
    assert again.status_code == 202
    assert again.get_json()["status"] == "pending"
    assert api.call("POST", f"/webhooks/{created['id']}/deliveries/999/redeliver/", manager_token).status_code == 404


def test_deliveries_are_listed_newest_first_and_paginated(api: Api, manager_token: str) -> None:
    created = create(api, manager_token)
    ids = [api.call("POST", f"/webhooks/{created['id']}/ping/", manager_token).get_json()["id"] for _ in range(3)]
    page = api.call("GET", f"/webhooks/{created['id']}/deliveries/?page_size=2", manager_token)
    assert [d["id"] for d in page.get_json()] == [ids[2], ids[1]]
    assert json.loads(page.headers["X-Pagination"])["total"] == 3


def test_deleting_an_endpoint_forgets_it(api: Api, manager_token: str) -> None:
    created = create(api, manager_token)
    assert api.call("DELETE", f"/webhooks/{created['id']}/", manager_token).status_code == 204
    assert api.call("GET", f"/webhooks/{created['id']}/", manager_token).status_code == 404
    assert api.call("GET", f"/webhooks/{created['id']}/deliveries/", manager_token).status_code == 404
    assert api.call("DELETE", f"/webhooks/{created['id']}/", manager_token).status_code == 404


def test_without_a_key_in_production_webhooks_answer_503_and_the_rest_serves(settings: Settings) -> None:
    production = replace(settings, production=True, webhook_secret_key="")
    app = create_app(production)
    use_cases(app).make_manager(username="boss", password="correct-horse-battery")
    client = app.test_client()
    token = client.post("/api/token/", json={"username": "boss", "password": "correct-horse-battery"}).get_json()
    response = client.post("/webhooks/", json=HOOK, headers={"Authorization": f"Bearer {token['access']}"})

    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert "WEBHOOK_SECRET_KEY" in response.get_json()["detail"]


def test_the_openapi_document_describes_the_webhook_routes(api: Api) -> None:
    document = api.client.get("/api/schema/").get_json()
    paths = document["paths"]
    assert {
        "/webhooks/",
        "/webhooks/{webhook_id}/",
        "/webhooks/{webhook_id}/rotate-secret/",
        "/webhooks/{webhook_id}/ping/",
        "/webhooks/{webhook_id}/deliveries/",
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/",
    } <= set(paths)
    assert set(paths["/webhooks/{webhook_id}/"]) >= {"get", "patch", "delete"}
    delivery = document["components"]["schemas"]["Delivery"]["properties"]
    assert set(delivery) >= {"id", "event_id", "event_type", "status", "attempts", "next_attempt_at"}


def deliver_once(app: Flask, answer: Answer) -> None:
    """What the deliverer does with what is due, the endpoint answering `answer`."""
    container = container_of(app)
    clock = container.clock()
    deliverer = Deliverer(uow=container.uow, sender=ScriptedSender(answer), clock=clock, wait=lambda _seconds: True)
    now = clock.now()
    until = now + timedelta(seconds=60)
    with container.uow() as uow:
        claimed = uow.deliveries.claim(now, until, 10, {}, 10)
        endpoints = {d.endpoint_id: uow.webhooks.get(d.endpoint_id) for d in claimed}
        uow.commit()
    for delivery in claimed:
        endpoint = endpoints[delivery.endpoint_id]
        assert endpoint is not None
        deliverer.attempt(delivery, endpoint, until)


def test_the_ping_and_disabled_events_match_the_asyncapi_document(app: Flask, api: Api, manager_token: str) -> None:
    document = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text())
    created = create(api, manager_token)
    api.call("POST", f"/webhooks/{created['id']}/ping/", manager_token)
    deliver_once(app, Answer(410))
    with container_of(app).uow() as uow:
        [ping] = uow.deliveries.list(created["id"], Page(1, 10)).items
        [disabled] = [e for e in uow.outbox.pending(100) if e.type == "webhook.disabled"]
    bodies = {"webhookPing": json.loads(ping.body), "webhookDisabled": json.loads(disabled.body)}
    for message, body in bodies.items():
        payload_validator(document, message).validate(body)
    assert bodies["webhookDisabled"]["data"]["reason"] == "gone"
    assert created["secret"] not in ping.body.decode() + disabled.body.decode()
