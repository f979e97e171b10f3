"""The console in a real browser, as a manager (and a customer) uses it."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import Live, Page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def boss(live: Live) -> str:
    """A manager's access token (for arranging through the API); the manager signs in as "boss"."""
    return live.manager("boss")


def test_a_manager_signs_in_creates_a_product_and_finds_it_through_the_api(page: Page, boss: str) -> None:
    page.open("/console/")
    assert page.driver.current_url.startswith(page.live.url + "/console/login")
    page.screenshot("login")
    page.sign_in("boss")
    assert "Low on stock" in page.text()
    page.screenshot("home")

    page.open("/console/products/new")
    page.fill(name="Browser teapot", price="18.50", currency="EUR", stock="7")
    page.screenshot("product-new")
    page.click("Add product", shows="Browser teapot was added to the catalog.")

    status, found = page.live.call("GET", "/products/?q=Browser%20teapot", boss)
    assert status == 200
    assert [(p["name"], p["price"], p["currency"], p["stock"]) for p in found] == [
        ("Browser teapot", "18.50", "EUR", 7)
    ]
    page.open("/console/products/?q=teapot")
    page.screenshot("products")
    assert "Browser teapot" in page.text()
    assert page.policy_violations() == []


def test_validation_errors_appear_next_to_their_fields(page: Page, boss: str) -> None:
    page.sign_in("boss")
    page.open("/console/products/new")
    page.fill(name="Odd price", price="1.001", stock="3")
    page.click("Add product", shows="TWD amounts have at most 2 decimals.")

    error = page.driver.find_element(By.ID, "price-error")
    assert error.text == "TWD amounts have at most 2 decimals."
    price = page.driver.find_element(By.NAME, "price")
    assert price.get_attribute("aria-describedby") == "price-error"
    page.screenshot("product-new-errors")


def test_an_edit_of_a_product_changed_meanwhile_shows_the_conflict(page: Page, boss: str) -> None:
    status, lamp = page.live.call("POST", "/products/", boss, {"name": "Conflict lamp", "price": "12.50", "stock": 10})
    assert status == 201
    page.sign_in("boss")
    page.open(f"/console/products/{lamp['id']}/")
    page.screenshot("product-edit")

    assert page.live.call("PATCH", f"/products/{lamp['id']}/", boss, {"price": "13.00"})[0] == 200
    page.fill(price="20.00")
    page.click("Save", shows="Someone changed this product since you opened it")

    page.screenshot("product-conflict")
    differs = page.driver.find_element(By.CSS_SELECTOR, "tr.differs").text
    assert differs.split() == ["price", "20.00", "13.00"]
    assert page.live.call("GET", f"/products/{lamp['id']}/", boss)[1]["price"] == "13.00"


def test_cancelling_an_order_brings_the_stock_back(page: Page, boss: str) -> None:
    status, mug = page.live.call("POST", "/products/", boss, {"name": "Cancel mug", "price": "3.00", "stock": 5})
    assert status == 201
    customer = page.live.customer("erin")
    status, order = page.live.call("POST", "/orders/", customer, {"items": [{"product": mug["id"], "quantity": 2}]})
    assert status == 201
    page.sign_in("boss")

    page.open("/console/orders/")
    page.screenshot("orders")
    page.follow(str(order["id"]), shows="Timeline")
    page.screenshot("order")
    page.follow("Cancel order…", shows=f"Cancel order {order['id']}?")
    page.screenshot("order-cancel")
    page.click("Cancel order", shows=f"Order {order['id']} is cancelled: its stock is back.")

    page.open(f"/console/products/{mug['id']}/")
    assert page.driver.find_element(By.NAME, "stock").get_attribute("value") == "5"
    page.open("/console/customers/?q=erin")
    page.screenshot("customers")
    page.follow("erin", shows="newest first")
    page.screenshot("customer")
    assert re.search(rf"\b{order['id']}\b.*cancelled", page.text())


def test_a_customer_is_refused(page: Page, live: Live) -> None:
    live.customer("frank")

    page.sign_in("frank", lands_on="Managers only")

    page.screenshot("managers-only")
    page.open("/console/")
    assert page.driver.current_url.startswith(live.url + "/console/login")


def test_a_form_posted_without_its_csrf_token_is_refused(page: Page, boss: str) -> None:
    status, cup = page.live.call("POST", "/products/", boss, {"name": "Csrf cup", "price": "2.00", "stock": 4})
    assert status == 201
    page.sign_in("boss")
    page.open(f"/console/products/{cup['id']}/")
    page.driver.execute_script(  # what a forged form would be: the same fields, no token
        "document.querySelectorAll('input[name=csrf_token]').forEach(function (e) { e.remove(); });"
    )
    page.fill(adjustment="50")
    page.click("Adjust", shows="Form refused")

    page.screenshot("csrf-refused")
    assert page.live.call("GET", f"/products/{cup['id']}/", boss)[1]["stock"] == 4


def test_a_product_is_deleted_after_its_confirmation_page(page: Page, boss: str) -> None:
    status, vase = page.live.call("POST", "/products/", boss, {"name": "Delete vase", "price": "9.00", "stock": 1})
    assert status == 201
    page.sign_in("boss")
    page.open(f"/console/products/{vase['id']}/")

    page.follow("Delete this product…", shows="Delete Delete vase?")
    page.screenshot("product-delete")
    page.click("Delete", shows="Delete vase was deleted; past orders keep showing it.")

    assert page.live.call("GET", f"/products/{vase['id']}/", boss)[0] == 404
