"""Orders: placing takes stock all or nothing; cancelling gives it back; managers fulfil."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.api.conftest import Api
from tests.support import container_of

PROBLEM = "application/problem+json"
ORDER_KEYS = {"id", "user", "status", "items", "total", "currency", "created_at", "updated_at"}


@pytest.fixture
def products(api: Api, manager_token: str) -> list[dict[str, Any]]:
    """Tea (10.50, stock 5) and Cake (3.25, stock 2)."""
    made: list[dict[str, Any]] = []
    for name, price, stock in (("Tea", "10.50", 5), ("Cake", "3.25", 2)):
        response = api.call("POST", "/products/", manager_token, json={"name": name, "price": price, "stock": stock})
        assert response.status_code == 201, response.get_json()
        made.append(response.get_json())
    return made


@pytest.fixture
def dan(api: Api) -> dict[str, Any]:
    user = api.signup("dan")
    return {"id": user["id"], **api.login("dan")}


def stock(api: Api, token: str, product: dict[str, Any]) -> int:
    left: int = api.call("GET", f"/products/{product['id']}/", token).get_json()["stock"]
    return left


def place(api: Api, token: str, *items: tuple[int, object]) -> TestResponse:
    return api.call("POST", "/orders/", token, json={"items": [{"product": p, "quantity": q} for p, q in items]})


def assert_nothing_changed(
    api: Api, token: str, products: list[dict[str, Any]], stocks: tuple[int, ...] = (5, 2)
) -> None:
    assert [stock(api, token, p) for p in products] == list(stocks)
    assert api.call("GET", "/orders/", token).get_json() == []


# Placing


def test_a_customer_places_an_order(api: Api, customer_token: str, products: list[dict[str, Any]]) -> None:
    tea, cake = products

    response = place(api, customer_token, (tea["id"], 2), (cake["id"], 1))

    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert set(order) >= ORDER_KEYS
    assert order["status"] == "placed"
    assert order["items"] == [
        {"product": tea["id"], "name": "Tea", "unit_price": "10.50", "quantity": 2, "line_total": "21.00"},
        {"product": cake["id"], "name": "Cake", "unit_price": "3.25", "quantity": 1, "line_total": "3.25"},
    ]
    assert order["total"] == "24.25"
    assert order["currency"] == "TWD"
    assert datetime.fromisoformat(order["created_at"]) == datetime.fromisoformat(order["updated_at"])
    assert [stock(api, customer_token, p) for p in products] == [3, 1]


def test_the_order_belongs_to_the_customer(api: Api, products: list[dict[str, Any]]) -> None:
    user = api.signup("carol")
    token = api.login("carol")["access"]

    order = place(api, token, (products[0]["id"], 1)).get_json()

    assert order["user"] == user["id"]


def test_ordering_the_whole_stock_is_allowed(api: Api, customer_token: str, products: list[dict[str, Any]]) -> None:
    response = place(api, customer_token, (products[0]["id"], 5))

    assert response.status_code == 201
    assert stock(api, customer_token, products[0]) == 0


def test_an_order_keeps_the_price_it_was_placed_at(
    api: Api, manager_token: str, customer_token: str, products: list[dict[str, Any]]
) -> None:
    tea = products[0]
    order = place(api, customer_token, (tea["id"], 2)).get_json()

    api.call("PATCH", f"/products/{tea['id']}/", manager_token, json={"price": "99.00", "name": "Fancy Tea"})

    again = api.call("GET", f"/orders/{order['id']}/", customer_token).get_json()
    assert again["items"][0]["unit_price"] == "10.50"
    assert again["items"][0]["name"] == "Tea"
    assert again["total"] == "21.00"


def test_a_manager_cannot_place_an_order(api: Api, manager_token: str, products: list[dict[str, Any]]) -> None:
    response = place(api, manager_token, (products[0]["id"], 1))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert stock(api, manager_token, products[0]) == 5


def test_placing_an_order_needs_a_token(api: Api, products: list[dict[str, Any]]) -> None:
    response = api.client.post("/orders/", json={"items": [{"product": products[0]["id"], "quantity": 1}]})

    assert response.status_code == 401


def test_an_order_needs_items(api: Api, customer_token: str, products: list[dict[str, Any]]) -> None:
    body: dict[str, Any]
    for body in ({"items": []}, {}):
        response = api.call("POST", "/orders/", customer_token, json=body)
        assert response.status_code == 400, response.get_json()
        assert response.mimetype == PROBLEM
        assert "items" in response.get_json()["errors"]
    assert_nothing_changed(api, customer_token, products)


def test_a_product_may_appear_once(api: Api, customer_token: str, products: list[dict[str, Any]]) -> None:
    tea = products[0]

    response = place(api, customer_token, (tea["id"], 1), (tea["id"], 2))

    assert response.status_code == 400
    assert "items.1.product" in response.get_json()["errors"]
    assert_nothing_changed(api, customer_token, products)


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_quantity_below_one_is_400(
    api: Api, customer_token: str, products: list[dict[str, Any]], quantity: int
) -> None:
    response = place(api, customer_token, (products[0]["id"], 1), (products[1]["id"], quantity))

    assert response.status_code == 400
    assert "items.1.quantity" in response.get_json()["errors"]
    assert_nothing_changed(api, customer_token, products)


@pytest.mark.parametrize("quantity", ["1", 1.5, None])
def test_a_quantity_must_be_an_integer(
    api: Api, customer_token: str, products: list[dict[str, Any]], quantity: object
) -> None:
    response = place(api, customer_token, (products[0]["id"], quantity))

    assert response.status_code == 400
    assert "items.0.quantity" in response.get_json()["errors"]


def test_an_unknown_product_is_400_naming_the_item(
    api: Api, customer_token: str, products: list[dict[str, Any]]
) -> None:
    response = place(api, customer_token, (products[0]["id"], 1), (999, 1))

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert list(response.get_json()["errors"]) == ["items.1.product"]
    assert_nothing_changed(api, customer_token, products)


def test_an_unknown_field_in_an_item_is_400(api: Api, customer_token: str, products: list[dict[str, Any]]) -> None:
    response = api.call(
        "POST", "/orders/", customer_token, json={"items": [{"product": products[0]["id"], "quantity": 1, "x": 1}]}
    )

    assert response.status_code == 400
    assert "items.0.x" in response.get_json()["errors"]


def test_not_enough_stock_is_409_listing_every_shortage(
    api: Api, customer_token: str, products: list[dict[str, Any]]
) -> None:
    tea, cake = products

    response = place(api, customer_token, (tea["id"], 6), (cake["id"], 3))

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    shortages = response.get_json()["shortages"]
    assert [(s["product"], s["name"], s["requested"], s["available"]) for s in shortages] == [
        (tea["id"], "Tea", 6, 5),
        (cake["id"], "Cake", 3, 2),
    ]
    assert_nothing_changed(api, customer_token, products)


def test_one_short_item_fails_the_whole_order(api: Api, customer_token: str, products: list[dict[str, Any]]) -> None:
    tea, cake = products

    response = place(api, customer_token, (tea["id"], 1), (cake["id"], 3))

    assert response.status_code == 409
    assert [s["product"] for s in response.get_json()["shortages"]] == [cake["id"]]
    assert_nothing_changed(api, customer_token, products)


def test_ordering_from_an_out_of_stock_product_is_409(
    api: Api, customer_token: str, products: list[dict[str, Any]]
) -> None:
    place(api, customer_token, (products[1]["id"], 2))

    response = place(api, customer_token, (products[1]["id"], 1))

    assert response.status_code == 409
    assert response.get_json()["shortages"][0]["available"] == 0


# Reading


def test_customers_see_their_own_orders_and_managers_see_all(
    api: Api, customer_token: str, dan: dict[str, Any], manager_token: str, products: list[dict[str, Any]]
) -> None:
    mine = place(api, customer_token, (products[0]["id"], 1)).get_json()
    theirs = place(api, dan["access"], (products[1]["id"], 1)).get_json()

    assert [o["id"] for o in api.call("GET", "/orders/", customer_token).get_json()] == [mine["id"]]
    assert [o["id"] for o in api.call("GET", "/orders/", dan["access"]).get_json()] == [theirs["id"]]
    everything = api.call("GET", "/orders/", manager_token)
    assert everything.status_code == 200
    assert [o["id"] for o in everything.get_json()] == [theirs["id"], mine["id"]]  # newest first
    assert everything.get_json()[1] == mine


def test_the_order_list_filters_by_status(
    api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    first = place(api, customer_token, (products[0]["id"], 1)).get_json()
    second = place(api, customer_token, (products[0]["id"], 1)).get_json()
    api.call("POST", f"/orders/{first['id']}/cancel/", customer_token)

    placed = api.call("GET", "/orders/?status=placed", customer_token)
    cancelled = api.call("GET", "/orders/?status=cancelled", manager_token)

    assert [o["id"] for o in placed.get_json()] == [second["id"]]
    assert [o["id"] for o in cancelled.get_json()] == [first["id"]]
    assert api.call("GET", "/orders/?status=fulfilled", manager_token).get_json() == []


def test_an_unknown_status_filter_is_400(api: Api, customer_token: str) -> None:
    response = api.call("GET", "/orders/?status=lost", customer_token)

    assert response.status_code == 400
    assert "status" in response.get_json()["errors"]


def test_the_order_list_is_paginated(api: Api, customer_token: str, products: list[dict[str, Any]]) -> None:
    ids = [place(api, customer_token, (products[0]["id"], 1)).get_json()["id"] for _ in range(3)]

    response = api.call("GET", "/orders/?page=2&page_size=2", customer_token)

    assert [o["id"] for o in response.get_json()] == ids[:1]  # newest first: the oldest is last
    meta = json.loads(response.headers["X-Pagination"])
    assert meta["total"] == 3
    assert meta["total_pages"] == 2
    assert meta["page"] == 2
    assert meta["first_page"] == 1
    assert meta["last_page"] == 2
    assert api.call("GET", "/orders/?page_size=101", customer_token).status_code == 400


def test_the_order_list_sorts_by_what_is_asked(
    api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    tea, cake = products[0]["id"], products[1]["id"]
    dear = place(api, customer_token, (tea, 2)).get_json()["id"]  # 21.00
    cheap = place(api, customer_token, (cake, 1)).get_json()["id"]  # 3.25
    middle = place(api, customer_token, (tea, 1)).get_json()["id"]  # 10.50
    api.call("POST", f"/orders/{middle}/fulfil/", manager_token)

    def listed(query: str) -> list[int]:
        response = api.call("GET", f"/orders/{query}", customer_token)
        assert response.status_code == 200, response.get_json()
        return [o["id"] for o in response.get_json()]

    assert listed("") == listed("?sort=-created_at") == [middle, cheap, dear]
    assert listed("?sort=created_at") == listed("?sort=id") == [dear, cheap, middle]
    assert listed("?sort=-id") == [middle, cheap, dear]
    assert listed("?sort=total") == [cheap, middle, dear]
    assert listed("?sort=-total") == [dear, middle, cheap]
    assert listed("?sort=status,-total") == [middle, dear, cheap]  # fulfilled, then placed
    assert listed("?sort=-total&page=2&page_size=2") == [cheap]


@pytest.mark.parametrize("sort", ["price", "-", "total,", "created_at;id", "user"])
def test_an_unknown_sort_is_400(api: Api, customer_token: str, sort: str) -> None:
    response = api.call("GET", f"/orders/?sort={sort}", customer_token)

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert list(response.get_json()["errors"]) == ["sort"]


def test_a_manager_lists_one_customers_orders_closed_account_or_not(
    api: Api, customer_token: str, dan: dict[str, Any], manager_token: str, products: list[dict[str, Any]]
) -> None:
    place(api, customer_token, (products[0]["id"], 1))
    dans = [place(api, dan["access"], (products[0]["id"], 1)).get_json()["id"] for _ in range(2)]
    api.call("DELETE", f"/users/{dan['id']}/", dan["access"])

    by_dan = api.call("GET", "/orders/?customer=DAN&sort=id", manager_token)
    nobody = api.call("GET", "/orders/?customer=nobody", manager_token)

    assert [o["id"] for o in by_dan.get_json()] == dans
    assert json.loads(by_dan.headers["X-Pagination"])["total"] == 2
    assert nobody.get_json() == []
    assert api.call("GET", f"/users/{by_dan.get_json()[0]['user']}/", manager_token).get_json()["active"] is False


def test_a_customer_may_not_filter_by_customer(api: Api, customer_token: str, dan: dict[str, Any]) -> None:
    for name in ("dan", "carol"):
        response = api.call("GET", f"/orders/?customer={name}", customer_token)

        assert response.status_code == 403
        assert response.mimetype == PROBLEM


def test_the_owner_and_managers_read_an_order(
    api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 1)).get_json()

    for token in (customer_token, manager_token):
        response = api.call("GET", f"/orders/{order['id']}/", token)
        assert response.status_code == 200
        assert response.get_json() == order


def test_another_customers_order_is_404(
    api: Api, customer_token: str, dan: dict[str, Any], products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 1)).get_json()

    response = api.call("GET", f"/orders/{order['id']}/", dan["access"])

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert (
        api.call("GET", "/orders/999/", dan["access"]).get_json()["detail"].replace("999", str(order["id"]))
        == (response.get_json()["detail"])
    )


def test_reading_orders_needs_a_token(api: Api) -> None:
    assert api.client.get("/orders/").status_code == 401
    assert api.client.get("/orders/1/").status_code == 401


# Cancelling


def test_the_owner_cancels_a_placed_order_and_stock_comes_back(
    api: Api, customer_token: str, products: list[dict[str, Any]]
) -> None:
    tea, cake = products
    order = place(api, customer_token, (tea["id"], 2), (cake["id"], 2)).get_json()

    response = api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == order["id"]
    assert response.get_json()["status"] == "cancelled"
    assert response.get_json()["items"] == order["items"]
    assert response.get_json()["cancelled_at"] is not None
    assert [stock(api, customer_token, p) for p in products] == [5, 2]
    assert api.call("GET", f"/orders/{order['id']}/", customer_token).get_json()["status"] == "cancelled"


def test_a_manager_cancels_any_order(
    api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 3)).get_json()

    response = api.call("POST", f"/orders/{order['id']}/cancel/", manager_token)

    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    assert stock(api, manager_token, products[0]) == 5


def test_cancelling_twice_is_409_naming_the_status(
    api: Api, customer_token: str, products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 1)).get_json()
    api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    response = api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert response.get_json()["current_status"] == "cancelled"
    assert "cancelled" in response.get_json()["detail"]
    assert stock(api, customer_token, products[0]) == 5


def test_a_fulfilled_order_cannot_be_cancelled(
    api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 1)).get_json()
    api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    for token in (customer_token, manager_token):
        response = api.call("POST", f"/orders/{order['id']}/cancel/", token)
        assert response.status_code == 409
        assert response.get_json()["current_status"] == "fulfilled"
    assert stock(api, customer_token, products[0]) == 4


def test_another_customer_cannot_cancel(
    api: Api, customer_token: str, dan: dict[str, Any], products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 1)).get_json()

    response = api.call("POST", f"/orders/{order['id']}/cancel/", dan["access"])

    assert response.status_code == 404
    assert api.call("GET", f"/orders/{order['id']}/", customer_token).get_json()["status"] == "placed"
    assert stock(api, customer_token, products[0]) == 4


def test_cancelling_an_order_of_a_deleted_product_restores_its_stock(
    app: Flask, api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    tea = products[0]
    order = place(api, customer_token, (tea["id"], 2)).get_json()
    api.call("DELETE", f"/products/{tea['id']}/", manager_token)

    response = api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    assert response.status_code == 200
    assert response.get_json()["items"][0]["name"] == "Tea"
    assert api.call("GET", f"/products/{tea['id']}/", manager_token).status_code == 404
    with container_of(app).uow() as uow:
        stored = uow.products.get_for_update([tea["id"]], include_deleted=True)[tea["id"]]
    assert stored.deleted
    assert stored.stock == 5


def test_cancelling_a_missing_order_is_404(api: Api, customer_token: str) -> None:
    assert api.call("POST", "/orders/999/cancel/", customer_token).status_code == 404


# Fulfilling


def test_a_manager_fulfils_an_order(
    api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 2)).get_json()

    response = api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "fulfilled"
    assert response.get_json()["fulfilled_at"] is not None
    assert stock(api, manager_token, products[0]) == 3
    assert api.call("GET", f"/orders/{order['id']}/", customer_token).get_json()["status"] == "fulfilled"


def test_a_customer_cannot_fulfil(api: Api, customer_token: str, products: list[dict[str, Any]]) -> None:
    order = place(api, customer_token, (products[0]["id"], 1)).get_json()

    response = api.call("POST", f"/orders/{order['id']}/fulfil/", customer_token)

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert api.call("GET", f"/orders/{order['id']}/", customer_token).get_json()["status"] == "placed"


def test_fulfilling_a_cancelled_order_is_409(
    api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 1)).get_json()
    api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    response = api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    assert response.status_code == 409
    assert response.get_json()["current_status"] == "cancelled"


def test_fulfilling_twice_is_409(
    api: Api, customer_token: str, manager_token: str, products: list[dict[str, Any]]
) -> None:
    order = place(api, customer_token, (products[0]["id"], 1)).get_json()
    api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    response = api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    assert response.status_code == 409
    assert response.get_json()["current_status"] == "fulfilled"


def test_fulfilling_a_missing_order_is_404(api: Api, manager_token: str) -> None:
    assert api.call("POST", "/orders/999/fulfil/", manager_token).status_code == 404
