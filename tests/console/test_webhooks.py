"""The console's Webhooks section over HTTP: list, create (the secret shown once), enable, disable,
rotate, ping, the delivery log with every attempt, and redeliver."""

from __future__ import annotations

import re

import pytest
from dependency_injector import providers
from flask import Flask

from shop.container import Container
from shop.domain.webhooks import Answer
from tests.api.conftest import Api
from tests.api.test_webhooks import deliver_once
from tests.console.conftest import Console, text_of
from tests.fakes import FixedResolver

SECRET = re.compile(r'<code id="secret">(whsec_[A-Za-z0-9+/=]+)</code>')
NEW = "/console/webhooks/new"


@pytest.fixture(autouse=True)
def resolver(container: Container) -> None:
    container.resolver.override(providers.Object(FixedResolver(hooks_example_com=["93.184.216.34"])))


def create(manager: Console, url: str = "https://hooks.example.com/shop") -> tuple[int, str]:
    """Fill in the form; the new endpoint's id and the secret the page showed."""
    response = manager.submit(NEW, NEW, {"url": url, "events": ["order.*", "product.deleted"], "description": "ERP"})  # type: ignore[dict-item]
    assert response.status_code == 201, text_of(response)
    found = SECRET.search(response.get_data(as_text=True))
    assert found is not None
    link = re.search(r'href="/console/webhooks/(\d+)/"', response.get_data(as_text=True))
    assert link is not None
    return int(link.group(1)), found.group(1)


def test_a_manager_creates_an_endpoint_and_sees_its_secret_once(manager: Console) -> None:
    assert "No endpoint yet" in text_of(manager.get("/console/webhooks/"))
    webhook_id, secret = create(manager)

    listed = manager.get("/console/webhooks/")
    detail = manager.get(f"/console/webhooks/{webhook_id}/")
    for page in (listed, detail):
        assert page.status_code == 200
        assert secret not in page.get_data(as_text=True)
        assert f"whsec_…{secret[-4:]}" in text_of(page)
    assert "https://hooks.example.com/shop" in text_of(listed)
    assert "order.*, product.deleted" in text_of(detail)
    assert 'aria-current="page">Webhooks' in listed.get_data(as_text=True)


def test_the_form_shows_the_apis_words_next_to_each_field(manager: Console) -> None:
    response = manager.submit(NEW, NEW, {"url": "ftp://nope", "description": "x" * 501})

    assert response.status_code == 400
    shown = text_of(response)
    assert "Only http and https URLs can receive webhooks." in shown
    assert "Give 1 to 50 event types." in shown
    assert 'aria-invalid="true" aria-describedby="url-error"' in response.get_data(as_text=True)
    assert "ftp://nope" in response.get_data(as_text=True)  # the form keeps what was typed
    assert "No endpoint yet" in text_of(manager.get("/console/webhooks/"))


def test_disable_enable_rotate_and_ping(manager: Console, app: Flask) -> None:
    webhook_id, secret = create(manager)
    page = f"/console/webhooks/{webhook_id}/"

    disabled = manager.submit(page, f"{page}disable", follow_redirects=True)
    assert "is disabled" in text_of(disabled) and "A manager disabled it." in text_of(disabled)
    enabled = manager.submit(page, f"{page}enable", follow_redirects=True)
    assert "is enabled: deliveries resume" in text_of(enabled)

    rotated = manager.submit(page, f"{page}rotate")
    assert rotated.status_code == 200
    new = SECRET.search(rotated.get_data(as_text=True))
    assert new is not None and new.group(1) != secret
    assert "For 24 hours deliveries are signed with the old secret too" in text_of(rotated)

    pinged = manager.submit(page, f"{page}ping", follow_redirects=True)
    assert "webhook.ping" in text_of(pinged) and "none yet" in text_of(pinged)


def test_the_log_shows_every_attempt_and_redelivers(manager: Console, app: Flask) -> None:
    webhook_id, _ = create(manager)
    page = f"/console/webhooks/{webhook_id}/"
    manager.submit(page, f"{page}ping")
    deliver_once(app, Answer(503, duration_ms=42, body=b"<h1>down for maintenance</h1>"))

    log = manager.get(page)
    shown = text_of(log)
    assert "retrying" in shown and "HTTP 503, 42 ms" in shown
    assert "&lt;h1&gt;down for maintenance&lt;/h1&gt;" in log.get_data(as_text=True)  # escaped, never markup
    delivery_id = re.search(r'id="delivery-(\d+)"', log.get_data(as_text=True))
    assert delivery_id is not None
    again = manager.submit(page, f"{page}deliveries/{delivery_id.group(1)}/redeliver", follow_redirects=True)
    assert f"Delivery {delivery_id.group(1)} (webhook.ping) will be sent again now." in text_of(again)
    assert "pending" in text_of(again)


def test_posts_without_a_csrf_token_change_nothing(manager: Console) -> None:
    webhook_id, _ = create(manager)
    response = manager.client.post(f"/console/webhooks/{webhook_id}/disable")
    assert response.status_code == 400
    assert "is disabled" not in text_of(manager.get(f"/console/webhooks/{webhook_id}/"))
    assert manager.client.post(NEW, data={"url": "https://hooks.example.com/"}).status_code == 400


def test_an_unknown_endpoint_is_a_404_page(manager: Console) -> None:
    response = manager.get("/console/webhooks/999/")
    assert response.status_code == 404
    assert "Webhook 999 not found." in text_of(response)


def test_its_pages_send_the_consoles_strict_policy(manager: Console) -> None:
    webhook_id, _ = create(manager)
    for path in ("/console/webhooks/", NEW, f"/console/webhooks/{webhook_id}/"):
        response = manager.get(path)
        assert response.status_code == 200, path
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script" not in response.get_data(as_text=True)


def test_without_a_manager_signed_in_no_webhook_page_opens(console: Console, api: Api) -> None:
    api.signup("carol")
    assert console.sign_in("carol").status_code == 403
    for path in ("/console/webhooks/", NEW, "/console/webhooks/1/"):
        response = console.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"], path
