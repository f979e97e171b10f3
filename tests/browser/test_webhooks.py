"""The console's Webhooks section in a real browser: a manager registers an endpoint (a real receiver
on loopback), copies the secret shown once, tests it, reads the delivery log, rotates the secret,
disables and enables it, and redelivers; a deliverer runs beside the service meanwhile."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from werkzeug.serving import make_server

from shop.application.webhooks import Deliverer, DelivererSettings
from shop.domain.webhooks import RetrySchedule
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.browser.conftest import Live, Page, _require_chromium
from tests.receivers import Receiver, receiving
from tests.support import container_of

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The service as the other browser tests run it, allowed to reach loopback (the receiver)."""
    _require_chromium()
    folder = tmp_path_factory.mktemp("live-webhooks")
    database = folder / "shop.db"
    shutil.copy(sqlite_template, database)
    settings = Settings.from_env(
        env={"DATABASE_URL": f"sqlite:///{database}", "JWT_SECRET_KEY": "w" * 48, "WEBHOOK_ALLOW_PRIVATE": "true"},
        var_dir=folder,
    )
    app = create_app(replace(settings, argon2_memory_kib=64, argon2_time_cost=1, ratelimit_enabled=False))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Live(app, server)
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


@pytest.fixture
def deliverer(live: Live) -> Iterator[Deliverer]:
    container = container_of(live.app)
    stop = threading.Event()
    running = Deliverer(
        uow=container.uow,
        sender=container.webhook_sender(),
        clock=container.clock(),
        wait=stop.wait,
        settings=DelivererSettings(schedule=RetrySchedule.parse("1,2,4"), idle_wait_s=0.05),
    )
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    stop.set()
    thread.join(timeout=20)


def test_a_manager_runs_an_endpoint_from_the_console(
    page: Page, live: Live, receiver: Receiver, deliverer: Deliverer
) -> None:
    live.manager("hooker")
    page.sign_in("hooker")
    page.open("/console/webhooks/")
    page.screenshot("webhooks-empty")
    page.follow("New endpoint", shows="New webhook endpoint")
    page.fill(url=receiver.url, description="Fulfilment")
    for value in ("order.*", "webhook.ping"):
        page.driver.find_element(By.CSS_SELECTOR, f'input[name="events"][value="{value}"]').click()
    page.screenshot("webhook-new")
    page.click("Create endpoint", shows="it is shown this once")
    secret = page.driver.find_element(By.ID, "secret").text
    assert secret.startswith("whsec_")
    page.screenshot("webhook-secret")
    page.driver.find_element(By.PARTIAL_LINK_TEXT, "Go to").click()
    page.wait_for_text("Deliveries")
    assert secret not in page.text() and f"whsec_…{secret[-4:]}" in page.text()

    page.click("Send a test event", shows="A webhook.ping event is on its way")
    [ping] = receiver.wait_for(1)
    assert ping.verify(secret)["type"] == "webhook.ping"
    page.driver.refresh()
    page.wait_for_text("succeeded")
    assert "HTTP 200" in page.text()
    page.screenshot("webhook-log")

    page.click("Rotate secret", shows="New signing secret")
    new_secret = page.driver.find_element(By.ID, "secret").text
    assert new_secret != secret
    page.driver.find_element(By.PARTIAL_LINK_TEXT, "Go to").click()
    page.wait_for_text("Deliveries")

    page.click("Disable", shows="A manager disabled it.")
    page.screenshot("webhook-disabled")
    page.click("Enable", shows="deliveries resume")

    page.click("Redeliver", shows="will be sent again now")
    _first, again = receiver.wait_for(2)
    assert again.webhook_id == ping.webhook_id
    again.verify(new_secret)
    again.verify(secret)  # still signed with the old one for a day
    assert page.policy_violations() == []
