"""Orders: placing takes stock all or nothing; cancelling gives it back; managers fulfil."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

PROBLEM = "application/problem+json"
ORDER_KEYS = {"id", "user", "status", "items", "total", "currency", "created_at", "updated_at"}


@pytest.fixture
def products(api, manager_token):
    """Tea (10.50, stock 5) and Cake (3.25, stock 2)."""
    made = []
    for name, price, stock in (("Tea", "10.50", 5), ("Cake", "3.25", 2)):
        response = api.call("POST", "/products/", manager_token, json={"name": name, "price": price, "stock": stock})
        assert response.status_code == 201, response.json
        made.append(response.json)
    return made


@pytest.fixture
def dan(api):
    user = api.signup("dan")
    return {"id": user["id"], **api.login("dan")}


def stock(api, token, product):
    return api.call("GET", f"/products/{product['id']}/", token).json["stock"]


def place(api, token, *items):
    return api.call("POST", "/orders/", token, json={"items": [{"product": p, "quantity": q} for p, q in items]})


def assert_nothing_changed(api, token, products, stocks=(5, 2)):
    assert [stock(api, token, p) for p in products] == list(stocks)
    assert api.call("GET", "/orders/", token).json == []


# Placing


def test_a_customer_places_an_order(api, customer_token, products):
    tea, cake = products

    response = place(api, customer_token, (tea["id"], 2), (cake["id"], 1))

    assert response.status_code == 201, response.json
    order = response.json
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


def test_the_order_belongs_to_the_customer(api, products):
    user = api.signup("carol")
    token = api.login("carol")["access"]

    order = place(api, token, (products[0]["id"], 1)).json

    assert order["user"] == user["id"]


def test_ordering_the_whole_stock_is_allowed(api, customer_token, products):
    response = place(api, customer_token, (products[0]["id"], 5))

    assert response.status_code == 201
    assert stock(api, customer_token, products[0]) == 0


def test_an_order_keeps_the_price_it_was_placed_at(api, manager_token, customer_token, products):
    tea = products[0]
    order = place(api, customer_token, (tea["id"], 2)).json

    api.call("PATCH", f"/products/{tea['id']}/", manager_token, json={"price": "99.00", "name": "Fancy Tea"})

    again = api.call("GET", f"/orders/{order['id']}/", customer_token).json
    assert again["items"][0]["unit_price"] == "10.50"
    assert again["items"][0]["name"] == "Tea"
    assert again["total"] == "21.00"


def test_a_manager_cannot_place_an_order(api, manager_token, products):
    response = place(api, manager_token, (products[0]["id"], 1))

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert stock(api, manager_token, products[0]) == 5


def test_placing_an_order_needs_a_token(api, products):
    response = api.client.post("/orders/", json={"items": [{"product": products[0]["id"], "quantity": 1}]})

    assert response.status_code == 401


def test_an_order_needs_items(api, customer_token, products):
    for body in ({"items": []}, {}):
        response = api.call("POST", "/orders/", customer_token, json=body)
        assert response.status_code == 400, response.json
        assert response.mimetype == PROBLEM
        assert "items" in response.json["errors"]
    assert_nothing_changed(api, customer_token, products)


def test_a_product_may_appear_once(api, customer_token, products):
    tea = products[0]

    response = place(api, customer_token, (tea["id"], 1), (tea["id"], 2))

    assert response.status_code == 400
    assert "items.1.product" in response.json["errors"]
    assert_nothing_changed(api, customer_token, products)


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_quantity_below_one_is_400(api, customer_token, products, quantity):
    response = place(api, customer_token, (products[0]["id"], 1), (products[1]["id"], quantity))

    assert response.status_code == 400
    assert "items.1.quantity" in response.json["errors"]
    assert_nothing_changed(api, customer_token, products)


@pytest.mark.parametrize("quantity", ["1", 1.5, None])
def test_a_quantity_must_be_an_integer(api, customer_token, products, quantity):
    response = place(api, customer_token, (products[0]["id"], quantity))

    assert response.status_code == 400
    assert "items.0.quantity" in response.json["errors"]


def test_an_unknown_product_is_400_naming_the_item(api, customer_token, products):
    response = place(api, customer_token, (products[0]["id"], 1), (999, 1))

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert list(response.json["errors"]) == ["items.1.product"]
    assert_nothing_changed(api, customer_token, products)


def test_an_unknown_field_in_an_item_is_400(api, customer_token, products):
    response = api.call(
        "POST", "/orders/", customer_token, json={"items": [{"product": products[0]["id"], "quantity": 1, "x": 1}]}
    )

    assert response.status_code == 400
    assert "items.0.x" in response.json["errors"]


def test_not_enough_stock_is_409_listing_every_shortage(api, customer_token, products):
    tea, cake = products

    response = place(api, customer_token, (tea["id"], 6), (cake["id"], 3))

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    shortages = response.json["shortages"]
    assert [(s["product"], s["name"], s["requested"], s["available"]) for s in shortages] == [
        (tea["id"], "Tea", 6, 5),
        (cake["id"], "Cake", 3, 2),
    ]
    assert_nothing_changed(api, customer_token, products)


def test_one_short_item_fails_the_whole_order(api, customer_token, products):
    tea, cake = products

    response = place(api, customer_token, (tea["id"], 1), (cake["id"], 3))

    assert response.status_code == 409
    assert [s["product"] for s in response.json["shortages"]] == [cake["id"]]
    assert_nothing_changed(api, customer_token, products)


def test_ordering_from_an_out_of_stock_product_is_409(api, customer_token, products):
    place(api, customer_token, (products[1]["id"], 2))

    response = place(api, customer_token, (products[1]["id"], 1))

    assert response.status_code == 409
    assert response.json["shortages"][0]["available"] == 0


# Reading


def test_customers_see_their_own_orders_and_managers_see_all(api, customer_token, dan, manager_token, products):
    mine = place(api, customer_token, (products[0]["id"], 1)).json
    theirs = place(api, dan["access"], (products[1]["id"], 1)).json

    assert [o["id"] for o in api.call("GET", "/orders/", customer_token).json] == [mine["id"]]
    assert [o["id"] for o in api.call("GET", "/orders/", dan["access"]).json] == [theirs["id"]]
    everything = api.call("GET", "/orders/", manager_token)
    assert everything.status_code == 200
    assert [o["id"] for o in everything.json] == [mine["id"], theirs["id"]]
    assert everything.json[0] == mine


def test_the_order_list_filters_by_status(api, customer_token, manager_token, products):
    first = place(api, customer_token, (products[0]["id"], 1)).json
    second = place(api, customer_token, (products[0]["id"], 1)).json
    api.call("POST", f"/orders/{first['id']}/cancel/", customer_token)

    placed = api.call("GET", "/orders/?status=placed", customer_token)
    cancelled = api.call("GET", "/orders/?status=cancelled", manager_token)

    assert [o["id"] for o in placed.json] == [second["id"]]
    assert [o["id"] for o in cancelled.json] == [first["id"]]
    assert api.call("GET", "/orders/?status=fulfilled", manager_token).json == []


def test_an_unknown_status_filter_is_400(api, customer_token):
    response = api.call("GET", "/orders/?status=lost", customer_token)

    assert response.status_code == 400
    assert "status" in response.json["errors"]


def test_the_order_list_is_paginated(api, customer_token, products):
    ids = [place(api, customer_token, (products[0]["id"], 1)).json["id"] for _ in range(3)]

    response = api.call("GET", "/orders/?page=2&page_size=2", customer_token)

    assert [o["id"] for o in response.json] == ids[2:]
    meta = json.loads(response.headers["X-Pagination"])
    assert meta["total"] == 3
    assert meta["total_pages"] == 2
    assert meta["page"] == 2
    assert meta["first_page"] == 1
    assert meta["last_page"] == 2
    assert api.call("GET", "/orders/?page_size=101", customer_token).status_code == 400


def test_the_owner_and_managers_read_an_order(api, customer_token, manager_token, products):
    order = place(api, customer_token, (products[0]["id"], 1)).json

    for token in (customer_token, manager_token):
        response = api.call("GET", f"/orders/{order['id']}/", token)
        assert response.status_code == 200
        assert response.json == order


def test_another_customers_order_is_404(api, customer_token, dan, products):
    order = place(api, customer_token, (products[0]["id"], 1)).json

    response = api.call("GET", f"/orders/{order['id']}/", dan["access"])

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert (
        api.call("GET", "/orders/999/", dan["access"]).json["detail"].replace("999", str(order["id"]))
        == (response.json["detail"])
    )


def test_reading_orders_needs_a_token(api):
    assert api.client.get("/orders/").status_code == 401
    assert api.client.get("/orders/1/").status_code == 401


# Cancelling


def test_the_owner_cancels_a_placed_order_and_stock_comes_back(api, customer_token, products):
    tea, cake = products
    order = place(api, customer_token, (tea["id"], 2), (cake["id"], 2)).json

    response = api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    assert response.status_code == 200, response.json
    assert response.json["id"] == order["id"]
    assert response.json["status"] == "cancelled"
    assert response.json["items"] == order["items"]
    assert response.json["cancelled_at"] is not None
    assert [stock(api, customer_token, p) for p in products] == [5, 2]
    assert api.call("GET", f"/orders/{order['id']}/", customer_token).json["status"] == "cancelled"


def test_a_manager_cancels_any_order(api, customer_token, manager_token, products):
    order = place(api, customer_token, (products[0]["id"], 3)).json

    response = api.call("POST", f"/orders/{order['id']}/cancel/", manager_token)

    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert stock(api, manager_token, products[0]) == 5


def test_cancelling_twice_is_409_naming_the_status(api, customer_token, products):
    order = place(api, customer_token, (products[0]["id"], 1)).json
    api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    response = api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert response.json["current_status"] == "cancelled"
    assert "cancelled" in response.json["detail"]
    assert stock(api, customer_token, products[0]) == 5


def test_a_fulfilled_order_cannot_be_cancelled(api, customer_token, manager_token, products):
    order = place(api, customer_token, (products[0]["id"], 1)).json
    api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    for token in (customer_token, manager_token):
        response = api.call("POST", f"/orders/{order['id']}/cancel/", token)
        assert response.status_code == 409
        assert response.json["current_status"] == "fulfilled"
    assert stock(api, customer_token, products[0]) == 4


def test_another_customer_cannot_cancel(api, customer_token, dan, products):
    order = place(api, customer_token, (products[0]["id"], 1)).json

    response = api.call("POST", f"/orders/{order['id']}/cancel/", dan["access"])

    assert response.status_code == 404
    assert api.call("GET", f"/orders/{order['id']}/", customer_token).json["status"] == "placed"
    assert stock(api, customer_token, products[0]) == 4


def test_cancelling_an_order_of_a_deleted_product_restores_its_stock(app, api, customer_token, manager_token, products):
    tea = products[0]
    order = place(api, customer_token, (tea["id"], 2)).json
    api.call("DELETE", f"/products/{tea['id']}/", manager_token)

    response = api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    assert response.status_code == 200
    assert response.json["items"][0]["name"] == "Tea"
    assert api.call("GET", f"/products/{tea['id']}/", manager_token).status_code == 404
    with app.container.uow() as uow:
        stored = uow.products.get_for_update([tea["id"]], include_deleted=True)[tea["id"]]
    assert stored.deleted
    assert stored.stock == 5


def test_cancelling_a_missing_order_is_404(api, customer_token):
    assert api.call("POST", "/orders/999/cancel/", customer_token).status_code == 404


# Fulfilling


def test_a_manager_fulfils_an_order(api, customer_token, manager_token, products):
    order = place(api, customer_token, (products[0]["id"], 2)).json

    response = api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    assert response.status_code == 200, response.json
    assert response.json["status"] == "fulfilled"
    assert response.json["fulfilled_at"] is not None
    assert stock(api, manager_token, products[0]) == 3
    assert api.call("GET", f"/orders/{order['id']}/", customer_token).json["status"] == "fulfilled"


def test_a_customer_cannot_fulfil(api, customer_token, products):
    order = place(api, customer_token, (products[0]["id"], 1)).json

    response = api.call("POST", f"/orders/{order['id']}/fulfil/", customer_token)

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert api.call("GET", f"/orders/{order['id']}/", customer_token).json["status"] == "placed"


def test_fulfilling_a_cancelled_order_is_409(api, customer_token, manager_token, products):
    order = place(api, customer_token, (products[0]["id"], 1)).json
    api.call("POST", f"/orders/{order['id']}/cancel/", customer_token)

    response = api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    assert response.status_code == 409
    assert response.json["current_status"] == "cancelled"


def test_fulfilling_twice_is_409(api, customer_token, manager_token, products):
    order = place(api, customer_token, (products[0]["id"], 1)).json
    api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    response = api.call("POST", f"/orders/{order['id']}/fulfil/", manager_token)

    assert response.status_code == 409
    assert response.json["current_status"] == "fulfilled"


def test_fulfilling_a_missing_order_is_404(api, manager_token):
    assert api.call("POST", "/orders/999/fulfil/", manager_token).status_code == 404
