"""The API docs render in a browser that can reach nothing but the service."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import Page

pytestmark = pytest.mark.browser


def test_redoc_shows_the_operations_with_the_network_blocked(page: Page) -> None:
    page.open("/api/schema/redoc/")

    page.wait_for_text("Place an order (customers only)", timeout=30)
    page.wait_for_text("Log in: exchange a username and password")
    page.screenshot("docs-redoc")
    assert page.policy_violations() == []  # its logo from Redocly's CDN is patched out (vendor.json)


def test_swagger_ui_shows_the_operations_with_the_network_blocked(page: Page) -> None:
    page.open("/api/schema/swagger-ui/")

    WebDriverWait(page.driver, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 20)
    page.screenshot("docs-swagger-ui")
    assert "/orders/{order_id}/cancel/" in page.text()
    assert page.policy_violations() == []
