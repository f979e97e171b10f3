"""The console on a phone: 390 by 844 CSS pixels (an iPhone 12 to 15), as Chromium's device mode
shows it. No page is wider than the screen, and Sign out is on it; wide tables scroll inside their
own box. A screenshot of each page lands in var/screenshots/narrow-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import Live, Page

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844


@pytest.fixture(scope="module")
def phone(live: Live) -> dict[str, str]:
    """A catalog, a customer and an order worth showing, and the pages that show them."""
    boss = live.manager("pocket")
    status, lamp = live.call(
        "POST", "/products/", boss, {"name": "Anglepoise desk lamp, brass, 2 m cable", "price": "129.90", "stock": 3}
    )
    assert status == 201, lamp
    customer = live.customer("margaret_hamilton_1936")
    status, order = live.call("POST", "/orders/", customer, {"items": [{"product": lamp["id"], "quantity": 2}]})
    assert status == 201, order
    status, found = live.call("GET", "/users/?q=margaret", boss)
    assert status == 200 and found, found
    return {
        "home": "/console/",
        "products": "/console/products/?sort=-price",
        "product": f"/console/products/{lamp['id']}/",
        "product-new": "/console/products/new",
        "orders": "/console/orders/",
        "order": f"/console/orders/{order['id']}/",
        "order-cancel": f"/console/orders/{order['id']}/cancel",
        "customers": "/console/customers/",
        "customer": f"/console/customers/{found[0]['id']}/",
    }


@pytest.fixture
def narrow(page: Page) -> Iterator[Page]:
    page.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True}
    )
    yield page
    page.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def page_width(page: Page) -> int:
    return int(page.driver.execute_script("return document.documentElement.scrollWidth;"))


def test_the_login_page_fits_a_phone(narrow: Page) -> None:
    narrow.open("/console/login")

    narrow.screenshot("narrow-login")
    assert page_width(narrow) <= WIDTH


def test_every_page_fits_a_phone_with_sign_out_on_screen(narrow: Page, phone: dict[str, str]) -> None:
    narrow.sign_in("pocket")

    for name, path in phone.items():
        narrow.open(path)
        narrow.screenshot(f"narrow-{name}")
        assert page_width(narrow) <= WIDTH, f"{name}: {page_width(narrow)} px wide"
        sign_out = narrow.driver.find_element(By.XPATH, '//button[normalize-space()="Sign out"]')
        box = narrow.driver.execute_script("return arguments[0].getBoundingClientRect().toJSON();", sign_out)
        assert sign_out.is_displayed(), name
        assert box["left"] >= 0 and box["top"] >= 0, (name, box)
        assert box["right"] <= WIDTH and box["bottom"] <= HEIGHT, (name, box)


def test_a_wide_table_scrolls_in_its_own_box(narrow: Page, phone: dict[str, str]) -> None:
    narrow.sign_in("pocket")
    narrow.open(phone["orders"])

    table = narrow.driver.find_element(By.TAG_NAME, "table")
    box = narrow.driver.find_element(By.XPATH, "//table/..")

    assert table.size["width"] > box.size["width"]  # the table is wider than the screen allows...
    assert box.value_of_css_property("overflow-x") == "auto"  # ...and scrolls inside its box
    assert page_width(narrow) <= WIDTH
