"""A real headless Chromium (Debian's chromium and chromium-driver, driven by Selenium) against the
service served on loopback, with every other host unreachable: what the browser renders must come
from the service itself. Screenshots of the pages land in var/screenshots/ for a person to look at."""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from werkzeug.serving import BaseWSGIServer, make_server

from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.fakes import PASSWORD
from tests.support import use_cases

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
# What chromedriver answers, instead of "stale element reference", to a command that meets a
# document being replaced by the next one (SeleniumHQ/selenium#15401): an element of the old
# document ("Node with given id does not belong to the document") or a script whose execution
# context went away meanwhile. A wait polling the new page may meet them once; nothing else is
# forgiven.
NAVIGATING = (
    "does not belong to the document",
    "Cannot find context with specified id",
    "Execution context was destroyed",
    "no such execution context",
)
# Shows `text` once the document is whole: the next page's promise, read from the page of the moment.
SHOWS = (
    "return document.readyState === 'complete' && document.body !== null"
    " && document.body.innerText.includes(arguments[0]);"
)


def navigating(error: WebDriverException) -> bool:
    return any(sign in str(error) for sign in NAVIGATING)


def _require_chromium() -> None:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if os.environ.get("SHOP_REQUIRE_BROWSER") == "1":
        pytest.fail("SHOP_REQUIRE_BROWSER=1 but chromium or chromium-driver is not installed")
    pytest.skip("chromium and chromium-driver are not installed (CI installs them and sets SHOP_REQUIRE_BROWSER=1)")


class Live:
    """The service on a loopback port, and a client of its API for arranging what a test needs."""

    def __init__(self, app: Flask, server: BaseWSGIServer) -> None:
        self.app, self.server = app, server
        self.url = f"http://127.0.0.1:{server.server_port}"

    def call(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path, method=method)  # noqa: S310 (http on loopback)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, data, timeout=10) as response:  # noqa: S310 (loopback)
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def token(self, username: str) -> str:
        status, body = self.call("POST", "/api/token/", body={"username": username, "password": PASSWORD})
        assert status == 200, body
        return str(body["access"])

    def customer(self, username: str) -> str:
        status, body = self.call("POST", "/users/", body={"username": username, "password": PASSWORD})
        assert status == 201, body
        return self.token(username)

    def manager(self, username: str) -> str:
        use_cases(self.app).make_manager(username=username, password=PASSWORD)
        return self.token(username)


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    _require_chromium()
    folder = tmp_path_factory.mktemp("live")
    database = folder / "shop.db"
    shutil.copy(sqlite_template, database)
    settings = Settings.from_env(
        env={"DATABASE_URL": f"sqlite:///{database}", "JWT_SECRET_KEY": "b" * 48}, var_dir=folder
    )
    app = create_app(replace(settings, argon2_memory_kib=64, argon2_time_cost=1, ratelimit_enabled=False))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Live(app, server)
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
        # No network but loopback: a page that needs a CDN stays blank here, as it would offline.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: use the drivers given, download nothing
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser: WebDriver, live: Live) -> Page:
    browser.delete_all_cookies()
    return Page(browser, live)


class Page:
    """What a person does in the browser: open, fill, click, read; and a screenshot to look at."""

    def __init__(self, driver: WebDriver, live: Live) -> None:
        self.driver, self.live = driver, live

    def open(self, path: str) -> None:
        self.driver.get(self.live.url + path)

    def fill(self, **fields: str) -> None:
        for name, value in fields.items():
            element = self.driver.find_element(By.NAME, name)
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            else:
                element.clear()
                element.send_keys(value)

    def click(self, button: str, *, shows: str, timeout: float = 20) -> None:
        """Press a form's button and wait until the page it leads to shows `shows`: its heading, its
        flash, an error beside a field, whatever that page promises and this one lacks. Nothing of
        the page left behind is asked about afterwards (staleness_of did, and chromedriver answered
        with an inspector error about once in a hundred clicks)."""
        self._leave(By.XPATH, f'//button[normalize-space()="{button}"]', shows, timeout)

    def follow(self, link: str, *, shows: str, timeout: float = 20) -> None:
        """Follow a link, and wait until the page it leads to shows `shows`."""
        self._leave(By.LINK_TEXT, link, shows, timeout)

    def _leave(self, by: str, target: str, shows: str, timeout: float) -> None:
        assert shows not in self.text(), f"{shows!r} is on this page already: waiting for it proves nothing"
        try:
            self.driver.find_element(by, target).click()
        except WebDriverException as error:
            if not navigating(error):  # the click's own navigation, reported as an error: it happened
                raise
        self.wait_for_text(shows, timeout)

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def wait_for_text(self, text: str, timeout: float = 20) -> None:
        """Wait until the page of the moment, whole, shows `text`."""

        def shown(driver: WebDriver) -> bool:
            try:
                return bool(driver.execute_script(SHOWS, text))
            except WebDriverException as error:
                if navigating(error):
                    return False  # the next document is on its way: ask it at the next poll
                raise

        try:
            WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(shown)
        except TimeoutException:
            raise AssertionError(
                f"after {timeout} s the page still does not show {text!r}: {self.text()[:500]!r}"
            ) from None

    def sign_in(self, username: str, password: str = PASSWORD, *, lands_on: str = "Overview") -> None:
        """Sign in at the login page; `lands_on`: what the page after it shows (a manager's home)."""
        self.open("/console/login")
        self.fill(username=username, password=password)
        self.click("Sign in", shows=lands_on)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def policy_violations(self) -> list[str]:
        """What the browser's console said against the page's Content-Security-Policy."""
        entries: list[dict[str, Any]] = self.driver.get_log("browser")  # type: ignore[attr-defined]  # Chrome's own
        return [e["message"] for e in entries if "Content Security Policy" in e["message"]]
