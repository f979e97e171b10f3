"""The console's pages over HTTP: each calls the API's use cases, so each answers what the API would."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from werkzeug.test import TestResponse

from shop.container import Container
from shop.domain.products import Product
from tests.api.conftest import Api
from tests.console.conftest import Console, text_of
from tests.fakes import PASSWORD
from tests.support import UseCases


def place_order(api: Api, username: str, *lines: tuple[Product, int]) -> int:
    if api.client.post("/api/token/", json={"username": username, "password": PASSWORD}).status_code != 200:
        api.signup(username)
    token = api.login(username)["access"]
    items = [{"product": product.id, "quantity": quantity} for product, quantity in lines]
    response = api.call("POST", "/orders/", token, json={"items": items})
    assert response.status_code == 201, response.get_json()
    order_id: int = response.get_json()["id"]
    return order_id


@contextmanager
def statements(container: Container) -> Iterator[list[str]]:
    """The SQL statements sent meanwhile, through either pool."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])  # (connection, cursor, statement, ...)

    engines = (container.engine(), container.reader_engine())
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def add_through_the_form(console: Console, form: dict[str, str]) -> TestResponse:
    """Open the new-product form, and post it with these fields."""
    return console.submit("/console/products/new", "/console/products/new", form)


# Every page


def test_every_page_sends_a_strict_policy_and_no_script(
    manager: Console, add_product: Callable[..., Product], api: Api
) -> None:
    lamp = add_product()
    order_id = place_order(api, "carol", (lamp, 1))
    pages = ["/console/", "/console/products/", f"/console/products/{lamp.id}/", "/console/products/new",
             f"/console/products/{lamp.id}/delete", "/console/orders/", f"/console/orders/{order_id}/",
             f"/console/orders/{order_id}/cancel",
             "/console/customers/", "/console/customers/1/", "/console/login"]  # fmt: skip

    for path in pages:
        response = manager.get(path)
        assert response.status_code == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy, path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script" not in response.get_data(as_text=True), path
        for asset in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', response.get_data(as_text=True)):
            assert manager.get(asset).status_code == 200, asset


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(
    manager: Console, add_product: Callable[..., Product], container: Container
) -> None:
    lamp = add_product(stock=3)

    response = manager.client.post(f"/console/products/{lamp.id}/stock", data={"adjustment": "5"})

    assert response.status_code == 400
    assert "Form refused" in text_of(response)
    assert UseCases(container.bus()).get_product(product_id=lamp.id).stock == 3


def test_a_form_posted_with_another_sessions_token_is_refused(
    manager: Console, add_product: Callable[..., Product], container: Container
) -> None:
    lamp = add_product(stock=3)
    other = Console(manager.client.application.test_client())
    foreign = other.token("/console/login")

    response = manager.client.post(
        f"/console/products/{lamp.id}/stock", data={"adjustment": "5", "csrf_token": foreign}
    )

    assert response.status_code == 400
    assert UseCases(container.bus()).get_product(product_id=lamp.id).stock == 3


def test_an_unknown_product_is_a_not_found_page(manager: Console) -> None:
    response = manager.get("/console/products/999/")

    assert response.status_code == 404
    assert "Product 999 not found." in text_of(response)


# Home


def test_home_shows_sales_and_low_stock(manager: Console, add_product: Callable[..., Product], api: Api) -> None:
    lamp, mug = add_product("Lamp", "12.50", stock=10), add_product("Mug", "3.00", stock=4, currency="USD")
    place_order(api, "carol", (lamp, 2))
    place_order(api, "carol", (mug, 1))

    page = text_of(manager.get("/console/"))

    assert "2 orders placed" in page
    assert "25.00 TWD" in page and "3.00 USD" in page
    assert re.search(r"Low on stock .* Mug 3", page)
    assert "Lamp 8" not in page


# Products


def test_products_are_listed_with_the_api_filters_and_sort(
    manager: Console, add_product: Callable[..., Product]
) -> None:
    for name, price, stock in (("Desk lamp", "40.00", 2), ("Floor lamp", "90.00", 0), ("Mug", "5.00", 9)):
        add_product(name, price, stock)

    page = text_of(manager.get("/console/products/?q=LAMP&max_price=100&in_stock=true&sort=-price"))

    assert "1 product" in page and "Desk lamp" in page
    assert "Floor lamp" not in page and "Mug" not in page


def test_the_sort_options_read_as_words(manager: Console) -> None:
    page = manager.get("/console/products/?sort=-price").get_data(as_text=True)

    select = re.search(r'<select id="sort".*?</select>', page, re.DOTALL)
    assert select is not None
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]+)</option>', select.group(0))
    assert [(value, label) for value, _, label in options] == [
        ("", "Added, oldest first"),
        ("-id", "Added, newest first"),
        ("name", "Name, A to Z"),
        ("-name", "Name, Z to A"),
        ("price", "Price, lowest first"),
        ("-price", "Price, highest first"),
        ("stock", "Stock, lowest first"),
        ("-stock", "Stock, highest first"),
    ]
    assert [value for value, selected, _ in options if selected] == ["-price"]


def test_a_bad_filter_is_told_next_to_its_field_in_the_api_words(manager: Console, api: Api) -> None:
    response = manager.get("/console/products/?min_price=1.0001&sort=colour")
    token = api.login("boss")["access"]
    from_api = api.call("GET", "/products/?min_price=1.0001&sort=colour", token).get_json()["errors"]

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field in ("min_price", "sort"):
        assert f'id="{field}-error">{from_api[field][0]}' in page.replace("&#39;", "'")


def test_a_manager_creates_a_product_through_the_form(manager: Console, api: Api) -> None:
    response = add_through_the_form(manager, {"name": "Teapot", "price": "18.5", "currency": "EUR", "stock": "7"})

    assert response.status_code == 302
    found = api.call("GET", "/products/?q=Teapot", api.login("boss")["access"]).get_json()
    assert [(p["name"], p["price"], p["currency"], p["stock"]) for p in found] == [("Teapot", "18.50", "EUR", 7)]
    assert "Teapot was added to the catalog." in text_of(manager.get(response.headers["Location"]))


def test_every_problem_of_a_new_product_is_told_next_to_its_field(manager: Console, api: Api) -> None:
    response = add_through_the_form(manager, {"name": " ", "price": "1.0001", "currency": "XXX", "stock": "3"})

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field in ("name", "price", "currency"):
        assert f'id="{field}-error"' in page, field
    assert 'value="1.0001"' in page  # what the manager typed stays in the form


@pytest.mark.parametrize("stock", ["many", "1.5", "", "²", "+-3", "--1", "1" * 13])
def test_a_stock_that_is_no_whole_number_is_refused_in_the_api_words(manager: Console, stock: str) -> None:
    response = add_through_the_form(manager, {"name": "Cup", "price": "1", "currency": "TWD", "stock": stock})

    assert response.status_code == 400
    assert 'id="stock-error">Not a valid integer.' in response.get_data(as_text=True)


def test_a_taken_name_is_told_next_to_the_name(manager: Console, add_product: Callable[..., Product]) -> None:
    add_product("Lamp")

    response = add_through_the_form(manager, {"name": "Lamp", "price": "1", "currency": "TWD", "stock": "1"})

    assert response.status_code == 400
    assert 'id="name-error">A product named &#39;Lamp&#39; already exists.' in response.get_data(as_text=True)


def test_a_bad_stock_a_bad_price_and_a_taken_name_are_told_in_one_answer(
    manager: Console, add_product: Callable[..., Product]
) -> None:
    add_product("Lamp")

    response = add_through_the_form(manager, {"name": "Lamp", "price": "1.001", "currency": "TWD", "stock": "many"})

    assert response.status_code == 400
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert "id=\"name-error\">A product named 'Lamp' already exists." in page
    assert 'id="price-error">TWD amounts have at most 2 decimals.' in page
    assert 'id="stock-error">Not a valid integer.' in page


def test_an_edit_tells_every_problem_of_its_form_at_once(
    manager: Console, add_product: Callable[..., Product], container: Container
) -> None:
    add_product("Lamp")
    chair = add_product("Chair", stock=2)
    page = f"/console/products/{chair.id}/"
    version = re.search(r'name="version" value="([^"]+)"', manager.get(page).get_data(as_text=True))
    assert version is not None

    response = manager.submit(
        page, page, {"name": "Lamp", "price": "-1", "currency": "TWD", "stock": "2.5", "version": version.group(1)}
    )

    assert response.status_code == 400
    shown = response.get_data(as_text=True)
    assert all(f'id="{field}-error"' in shown for field in ("name", "price", "stock"))
    assert UseCases(container.bus()).get_product(product_id=chair.id or 0).name == "Chair"


def test_an_edit_is_saved(manager: Console, add_product: Callable[..., Product], container: Container) -> None:
    lamp = add_product("Lamp", "12.50", stock=10)
    page = f"/console/products/{lamp.id}/"
    version = re.search(r'name="version" value="([^"]+)"', manager.get(page).get_data(as_text=True))
    assert version is not None

    response = manager.submit(
        page, page, {"name": "Lamp", "price": "15", "currency": "TWD", "stock": "10", "version": version.group(1)}
    )

    assert response.status_code == 302
    assert str(UseCases(container.bus()).get_product(product_id=lamp.id).price.amount) == "15.00"


def test_an_edit_of_a_product_changed_meanwhile_shows_both_and_overwrites_nothing(
    manager: Console, add_product: Callable[..., Product], container: Container, api: Api
) -> None:
    lamp = add_product("Lamp", "12.50", stock=10)
    page = f"/console/products/{lamp.id}/"
    opened = manager.get(page).get_data(as_text=True)
    version = re.search(r'name="version" value="([^"]+)"', opened)
    token = re.search(r'name="csrf_token" value="([^"]+)"', opened)
    assert version is not None and token is not None
    api.call("PATCH", f"/products/{lamp.id}/", api.login("stocker")["access"], json={"price": "13.00"})

    response = manager.client.post(
        page,
        data={"csrf_token": token.group(1), "version": version.group(1),
              "name": "Lamp", "price": "20.00", "currency": "TWD", "stock": "10"},
    )  # fmt: skip

    assert response.status_code == 409
    shown = text_of(response)
    assert "Someone changed this product since you opened it" in shown
    assert "price 20.00 13.00" in shown  # yours, then the stored one
    assert str(UseCases(container.bus()).get_product(product_id=lamp.id).price.amount) == "13.00"


def test_a_quick_stock_adjustment_adds_to_what_is_left(
    manager: Console, add_product: Callable[..., Product], container: Container, api: Api
) -> None:
    lamp = add_product(stock=10)
    page = f"/console/products/{lamp.id}/"
    token = manager.token(page)
    place_order(api, "carol", (lamp, 3))  # while the manager looks at 10

    response = manager.client.post(f"{page}stock", data={"csrf_token": token, "adjustment": "+5"})

    assert response.status_code == 302
    assert UseCases(container.bus()).get_product(product_id=lamp.id).stock == 12


@pytest.mark.parametrize("adjustment", ["²", "+-3", "--1", "five"])
def test_an_adjustment_that_is_no_whole_number_is_told_next_to_its_field(
    manager: Console, add_product: Callable[..., Product], adjustment: str
) -> None:
    lamp = add_product(stock=2)

    response = manager.submit(
        f"/console/products/{lamp.id}/", f"/console/products/{lamp.id}/stock", {"adjustment": adjustment}
    )

    assert response.status_code == 400
    assert 'id="adjustment-error">Not a valid integer.' in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/console/products/", "/console/orders/", "/console/customers/"])
@pytest.mark.parametrize("number", ["%C2%B2", "0", "-1", "999999999999", "x"])
def test_a_page_number_out_of_shape_shows_the_first_page(manager: Console, path: str, number: str) -> None:
    assert manager.get(f"{path}?page={number}").status_code == 200


def test_a_stock_adjustment_below_zero_is_told_next_to_its_field(
    manager: Console, add_product: Callable[..., Product], container: Container
) -> None:
    lamp = add_product(stock=2)

    response = manager.submit(
        f"/console/products/{lamp.id}/", f"/console/products/{lamp.id}/stock", {"adjustment": "-3"}
    )

    assert response.status_code == 400
    assert 'id="adjustment-error">The stock is 2: it can change by -2 to' in response.get_data(as_text=True)
    assert UseCases(container.bus()).get_product(product_id=lamp.id).stock == 2


def test_a_product_is_deleted_after_a_confirmation(
    manager: Console, add_product: Callable[..., Product], api: Api
) -> None:
    lamp = add_product()
    confirm = f"/console/products/{lamp.id}/delete"
    opened = manager.get(confirm).get_data(as_text=True)
    version = re.search(r'name="version" value="([^"]+)"', opened)
    assert version is not None and "Delete Lamp?" in opened

    response = manager.submit(confirm, confirm, {"version": version.group(1)})

    assert response.status_code == 302
    assert api.call("GET", f"/products/{lamp.id}/", api.login("stocker")["access"]).status_code == 404


# Orders


def test_an_unknown_status_is_refused_in_the_api_words(manager: Console, api: Api) -> None:
    response = manager.get("/console/orders/?status=lost")
    from_api = api.call("GET", "/orders/?status=lost", api.login("boss")["access"]).get_json()["errors"]

    assert response.status_code == 400
    assert f'id="status-error">{from_api["status"][0]}' in response.get_data(as_text=True)


def test_an_overlong_customer_search_is_refused_in_the_api_words(manager: Console, api: Api) -> None:
    response = manager.get(f"/console/customers/?q={'x' * 151}")
    from_api = api.call("GET", f"/users/?q={'x' * 151}", api.login("boss")["access"]).get_json()["errors"]

    assert response.status_code == 400
    assert f'id="q-error">{from_api["q"][0]}' in response.get_data(as_text=True)


def test_orders_newest_first_filtered_by_status_and_customer(
    manager: Console, add_product: Callable[..., Product], api: Api
) -> None:
    lamp = add_product(stock=50)
    first = place_order(api, "carol", (lamp, 1))
    second = place_order(api, "dave", (lamp, 1))
    third = place_order(api, "carol", (lamp, 1))
    api.call("POST", f"/orders/{third}/cancel/", api.login("carol")["access"])

    every = manager.get("/console/orders/").get_data(as_text=True)
    carols_placed = text_of(manager.get("/console/orders/?status=placed&customer=CAROL"))

    shown = [int(n) for n in re.findall(r'href="/console/orders/(\d+)/"', every)]
    assert shown == [third, second, first]
    assert "1 order, newest first" in carols_placed


def test_order_lists_show_their_customers_by_username(
    manager: Console, add_product: Callable[..., Product], api: Api
) -> None:
    lamp = add_product(stock=50)
    place_order(api, "carol", (lamp, 1))
    place_order(api, "dave", (lamp, 1))
    carol = api.call("GET", "/users/?q=carol", api.login("boss")["access"]).get_json()[0]

    listed = manager.get("/console/orders/").get_data(as_text=True)
    on_her_page = manager.get(f"/console/customers/{carol['id']}/").get_data(as_text=True)

    assert f'href="/console/customers/{carol["id"]}/">carol</a>' in listed
    assert ">dave</a>" in listed
    assert re.search(r">#\d+<", listed) is None
    assert f'href="/console/customers/{carol["id"]}/">carol</a>' in on_her_page


def test_a_page_of_orders_reads_its_usernames_in_one_query(
    manager: Console, add_product: Callable[..., Product], api: Api, container: Container
) -> None:
    lamp = add_product(stock=50)
    place_order(api, "carol", (lamp, 1))
    with statements(container) as one_customer:
        manager.get("/console/orders/")
    for name in ("dave", "erin", "fred"):
        place_order(api, name, (lamp, 1))
    with statements(container) as four_customers:
        listed = manager.get("/console/orders/").get_data(as_text=True)

    def of_users(sent: list[str]) -> int:
        return sum(1 for statement in sent if re.search(r"FROM users\b", statement))

    assert all(f">{name}</a>" in listed for name in ("carol", "dave", "erin", "fred"))
    assert of_users(four_customers) == of_users(one_customer) <= 2  # the session's check, the page's names


def test_an_order_of_a_closed_account_is_listed_by_its_username(
    manager: Console, add_product: Callable[..., Product], api: Api
) -> None:
    lamp = add_product(stock=5)
    place_order(api, "carol", (lamp, 1))
    token = api.login("carol")["access"]
    carol = api.call("GET", "/users/?q=carol", api.login("boss")["access"]).get_json()[0]
    assert api.call("DELETE", f"/users/{carol['id']}/", token).status_code == 204

    listed = manager.get("/console/orders/").get_data(as_text=True)

    assert f'href="/console/customers/{carol["id"]}/">carol</a>' in listed


def test_an_order_page_shows_lines_totals_and_timeline(
    manager: Console, add_product: Callable[..., Product], api: Api
) -> None:
    lamp, mug = add_product("Lamp", "12.50", stock=5), add_product("Mug", "3.00", stock=5)
    order_id = place_order(api, "carol", (lamp, 2), (mug, 1))

    page = text_of(manager.get(f"/console/orders/{order_id}/"))

    assert f"Order {order_id} placed" in page and "Customer: carol" in page
    assert "Lamp 12.50 2 25.00" in page and "Mug 3.00 1 3.00" in page
    assert "Total 28.00 TWD" in page
    assert "Placed 20" in page and "Cancelled" not in page


def test_cancelling_an_order_gives_its_stock_back(
    manager: Console, add_product: Callable[..., Product], api: Api, container: Container
) -> None:
    lamp = add_product(stock=5)
    order_id = place_order(api, "carol", (lamp, 2))
    page = f"/console/orders/{order_id}/"

    response = manager.submit(page, f"{page}cancel")

    assert response.status_code == 302
    assert UseCases(container.bus()).get_product(product_id=lamp.id).stock == 5
    shown = text_of(manager.get(page))
    assert f"Order {order_id} is cancelled: its stock is back." in shown
    assert "Cancelled 20" in shown
    assert "A cancelled order can be neither fulfilled nor cancelled." in shown
    assert "Cancel order" not in shown and "Fulfil" not in shown.replace("fulfilled", "")


def test_cancelling_asks_for_a_confirmation_first(
    manager: Console, add_product: Callable[..., Product], api: Api, container: Container
) -> None:
    lamp = add_product("Lamp", stock=5)
    order_id = place_order(api, "carol", (lamp, 2))
    order_page = manager.get(f"/console/orders/{order_id}/").get_data(as_text=True)

    confirm = manager.get(f"/console/orders/{order_id}/cancel")

    assert f'href="/console/orders/{order_id}/cancel"' in order_page
    assert f'action="/console/orders/{order_id}/cancel"' not in order_page  # one click can't cancel
    assert confirm.status_code == 200
    shown = text_of(confirm)
    assert f"Cancel order {order_id}?" in shown and "carol" in shown and "Lamp 2" in shown
    assert f'action="/console/orders/{order_id}/cancel"' in confirm.get_data(as_text=True)
    assert UseCases(container.bus()).get_product(product_id=lamp.id or 0).stock == 3  # looking changes nothing


def test_a_cancelled_order_offers_no_confirmation(
    manager: Console, add_product: Callable[..., Product], api: Api
) -> None:
    lamp = add_product(stock=5)
    order_id = place_order(api, "carol", (lamp, 2))
    manager.submit(f"/console/orders/{order_id}/cancel", f"/console/orders/{order_id}/cancel")

    confirm = manager.get(f"/console/orders/{order_id}/cancel")

    assert "A cancelled order can be neither fulfilled nor cancelled." in text_of(confirm)
    assert 'class="danger" type="submit"' not in confirm.get_data(as_text=True)


def test_fulfilling_a_cancelled_order_is_refused_in_the_api_words(
    manager: Console, add_product: Callable[..., Product], api: Api
) -> None:
    lamp = add_product(stock=5)
    order_id = place_order(api, "carol", (lamp, 2))
    page = f"/console/orders/{order_id}/"
    manager.submit(page, f"{page}cancel")

    response = manager.submit(page, f"{page}fulfil")

    assert "An order that is cancelled cannot become fulfilled." in text_of(manager.get(response.headers["Location"]))


# Customers


def test_customers_are_found_by_a_piece_of_their_username(manager: Console, api: Api) -> None:
    for name in ("Annabel", "bob", "hannah"):
        api.signup(name)

    page = text_of(manager.get("/console/customers/?q=ann"))

    assert "2 customers" in page and "Annabel" in page and "hannah" in page and "bob" not in page


def test_customers_are_listed_without_the_managers(manager: Console, api: Api) -> None:
    api.signup("carol")

    page = manager.get("/console/customers/").get_data(as_text=True)

    assert re.findall(r'href="/console/customers/\d+/">([^<]+)<', page) == ["carol"]
    assert "1 customer" in text_of(manager.get("/console/customers/"))


def test_a_customer_page_lists_their_orders(manager: Console, add_product: Callable[..., Product], api: Api) -> None:
    lamp = add_product(stock=5)
    order_id = place_order(api, "carol", (lamp, 1))
    carol = api.call("GET", "/users/?q=carol", api.login("boss")["access"]).get_json()[0]

    page = manager.get(f"/console/customers/{carol['id']}/").get_data(as_text=True)

    assert f'href="/console/orders/{order_id}/"' in page
    assert "1 order, newest first" in text_of(manager.get(f"/console/customers/{carol['id']}/"))
