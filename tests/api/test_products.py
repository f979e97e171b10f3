"""The catalog: managers change it, every logged-in user reads, filters, sorts and pages it."""

from __future__ import annotations

import json
from typing import Any, Protocol

import pytest
from werkzeug.test import TestResponse

from tests.api.conftest import Api

PROBLEM = "application/problem+json"
PRODUCT_KEYS = {"id", "name", "price", "currency", "stock"}


class Create(Protocol):
    def __call__(self, name: str, price: str | float = ..., stock: int = ..., **extra: Any) -> dict[str, Any]: ...


@pytest.fixture
def create(api: Api, manager_token: str) -> Create:
    def make(name: str, price: str | float = "10.00", stock: int = 5, **extra: Any) -> dict[str, Any]:
        response = api.call(
            "POST", "/products/", manager_token, json={"name": name, "price": price, "stock": stock, **extra}
        )
        assert response.status_code == 201, response.get_json()
        product: dict[str, Any] = response.get_json()
        return product

    return make


@pytest.fixture
def catalog(create: Create) -> list[dict[str, Any]]:
    """Five products, created in this order (ids ascending)."""
    return [
        create("Green Tea", "12.50", 10),
        create("Black Coffee", "30.00", 0),
        create("Oolong tea", "25.00", 3),
        create("Apple Juice", "12.50", 7),
        create("Water", "5.00", 100),
    ]


def names(response: TestResponse) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [p["name"] for p in response.get_json()]


def pagination(response: TestResponse) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(response.headers["X-Pagination"])
    return meta


# Creating


def test_a_manager_creates_a_product(api: Api, manager_token: str) -> None:
    response = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "10.5", "stock": 3})

    assert response.status_code == 201, response.get_json()
    assert set(response.get_json()) == PRODUCT_KEYS
    assert response.get_json()["name"] == "Tea"
    assert response.get_json()["price"] == "10.50"
    assert response.get_json()["currency"] == "TWD"
    assert response.get_json()["stock"] == 3
    fetched = api.call("GET", f"/products/{response.get_json()['id']}/", manager_token)
    assert fetched.get_json() == response.get_json()


@pytest.mark.parametrize(
    ("price", "shown"), [(10, "10.00"), (10.5, "10.50"), ("0", "0.00"), ("9.99", "9.99"), (0.1, "0.10")]
)
def test_a_price_is_accepted_as_string_or_number_and_shown_as_a_string(
    create: Create, price: str | float, shown: str
) -> None:
    assert create("Tea", price)["price"] == shown


def test_a_currency_can_be_given(create: Create) -> None:
    assert create("Tea", currency="USD")["currency"] == "USD"


def test_a_customer_cannot_create_a_product(api: Api, customer_token: str) -> None:
    response = api.call("POST", "/products/", customer_token, json={"name": "Tea", "price": "1", "stock": 1})

    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_creating_a_product_needs_a_token(api: Api) -> None:
    assert api.client.post("/products/", json={"name": "Tea", "price": "1", "stock": 1}).status_code == 401


def test_a_product_name_is_unique(api: Api, manager_token: str, create: Create) -> None:
    create("Tea")

    response = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "2", "stock": 1})

    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert "name" in response.get_json()["errors"]


def test_a_taken_name_is_told_with_the_other_problems_of_the_request(
    api: Api, manager_token: str, create: Create
) -> None:
    create("Tea")

    response = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "2.001", "stock": 1})

    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "name": ["A product named 'Tea' already exists."],
        "price": ["TWD amounts have at most 2 decimals."],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": "1.234"}, "price"),
        ({"price": 1.234}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": -1}, "price"),
        ({"price": "ten"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": True}, "price"),
        ({"price": None}, "price"),
        ({"stock": -1}, "stock"),
        ({"stock": "5"}, "stock"),
        ({"stock": 1.5}, "stock"),
        ({"stock": None}, "stock"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"currency": "XXX"}, "currency"),
        ({"colour": "green"}, "colour"),
    ],
)
def test_invalid_product_fields_are_400(api: Api, manager_token: str, body: dict[str, Any], field: str) -> None:
    response = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "1.00", "stock": 1, **body})

    assert response.status_code == 400, response.get_json()
    assert response.mimetype == PROBLEM
    assert field in response.get_json()["errors"]
    assert api.call("GET", "/products/", manager_token).get_json() == []


@pytest.mark.parametrize("missing", ["name", "price", "stock"])
def test_required_product_fields(api: Api, manager_token: str, missing: str) -> None:
    body = {"name": "Tea", "price": "1.00", "stock": 1}
    del body[missing]

    response = api.call("POST", "/products/", manager_token, json=body)

    assert response.status_code == 400
    assert missing in response.get_json()["errors"]


# Reading


def test_any_logged_in_user_reads_a_product(api: Api, customer_token: str, create: Create) -> None:
    product = create("Tea", "3", 4)

    response = api.call("GET", f"/products/{product['id']}/", customer_token)

    assert response.status_code == 200
    assert response.get_json() == product


@pytest.mark.parametrize("path", ["/products/999/", "/products/abc/", "/products/99999999999/", "/products/0/"])
def test_a_missing_product_is_a_404_problem(api: Api, customer_token: str, path: str) -> None:
    response = api.call("GET", path, customer_token)

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.get_json()["status"] == 404
    assert response.get_json()["instance"] == path


def test_reading_products_needs_a_token(api: Api, create: Create) -> None:
    product = create("Tea")

    assert api.client.get("/products/").status_code == 401
    assert api.client.get(f"/products/{product['id']}/").status_code == 401


# Listing


def test_the_list_is_ordered_by_id_by_default(api: Api, customer_token: str, catalog: list[dict[str, Any]]) -> None:
    response = api.call("GET", "/products/", customer_token)

    assert [p["id"] for p in response.get_json()] == [p["id"] for p in catalog]
    assert response.get_json()[0] == catalog[0]


def test_the_list_has_pagination_metadata(api: Api, customer_token: str, catalog: list[dict[str, Any]]) -> None:
    response = api.call("GET", "/products/?page=2&page_size=2", customer_token)

    assert names(response) == ["Oolong tea", "Apple Juice"]
    meta = pagination(response)
    assert meta["total"] == 5
    assert meta["total_pages"] == 3
    assert meta["first_page"] == 1
    assert meta["last_page"] == 3
    assert meta["page"] == 2
    assert meta["previous_page"] == 1
    assert meta["next_page"] == 3


def test_a_page_beyond_the_last_is_empty(api: Api, customer_token: str, catalog: list[dict[str, Any]]) -> None:
    response = api.call("GET", "/products/?page=9&page_size=2", customer_token)

    assert response.status_code == 200
    assert response.get_json() == []
    assert pagination(response) == {
        "total": 5,
        "total_pages": 3,
        "first_page": 1,
        "last_page": 3,
        "page": 9,
        "previous_page": 3,  # the last page that has items
    }


@pytest.mark.parametrize(("page", "previous"), [(1, {}), (2, {"previous_page": 1})])
def test_an_empty_list_still_has_its_first_page(
    api: Api, customer_token: str, catalog: list[dict[str, Any]], page: int, previous: dict[str, int]
) -> None:
    response = api.call("GET", f"/products/?q=nothing-like-this&page={page}", customer_token)

    assert response.get_json() == []
    empty = {"total": 0, "total_pages": 0, "first_page": 1, "last_page": 1, "page": page}
    assert pagination(response) == empty | previous


def test_the_default_page_size_is_twenty(api: Api, create: Create, customer_token: str) -> None:
    for index in range(21):
        create(f"Item {index:02}")

    response = api.call("GET", "/products/", customer_token)

    assert len(response.get_json()) == 20
    assert pagination(response)["total_pages"] == 2


@pytest.mark.parametrize("query", ["page_size=101", "page_size=0", "page=0", "page=-1", "page_size=abc"])
def test_bad_pagination_is_400(api: Api, customer_token: str, query: str) -> None:
    response = api.call("GET", f"/products/?{query}", customer_token)

    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert query.split("=")[0] in response.get_json()["errors"]


def test_a_page_size_of_one_hundred_is_allowed(api: Api, customer_token: str, catalog: list[dict[str, Any]]) -> None:
    response = api.call("GET", "/products/?page_size=100", customer_token)

    assert len(names(response)) == 5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("price=12.50", ["Green Tea", "Apple Juice"]),
        ("price=12.5", ["Green Tea", "Apple Juice"]),
        ("stock=0", ["Black Coffee"]),
        ("stock=3", ["Oolong tea"]),
        ("min_price=12.50", ["Green Tea", "Black Coffee", "Oolong tea", "Apple Juice"]),
        ("max_price=12.50", ["Green Tea", "Apple Juice", "Water"]),
        ("min_price=6&max_price=26", ["Green Tea", "Oolong tea", "Apple Juice"]),
        ("in_stock=true", ["Green Tea", "Oolong tea", "Apple Juice", "Water"]),
        ("in_stock=false", ["Black Coffee"]),
        ("q=tea", ["Green Tea", "Oolong tea"]),
        ("q=TEA", ["Green Tea", "Oolong tea"]),
        ("q=ee", ["Green Tea", "Black Coffee"]),
        ("q=nothing", []),
        ("q=tea&max_price=20", ["Green Tea"]),
    ],
)
def test_filters(api: Api, customer_token: str, catalog: list[dict[str, Any]], query: str, expected: list[str]) -> None:
    assert names(api.call("GET", f"/products/?{query}", customer_token)) == expected


def test_q_treats_wildcards_literally(api: Api, customer_token: str, create: Create) -> None:
    create("100% Juice")
    create("Plain Water")

    assert names(api.call("GET", "/products/?q=%25", customer_token)) == ["100% Juice"]
    assert names(api.call("GET", "/products/?q=_", customer_token)) == []


def test_filters_count_in_the_pagination(api: Api, customer_token: str, catalog: list[dict[str, Any]]) -> None:
    response = api.call("GET", "/products/?q=tea&page_size=1", customer_token)

    assert names(response) == ["Green Tea"]
    assert pagination(response)["total"] == 2
    assert pagination(response)["total_pages"] == 2


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("price", ["Water", "Green Tea", "Apple Juice", "Oolong tea", "Black Coffee"]),
        ("-price", ["Black Coffee", "Oolong tea", "Green Tea", "Apple Juice", "Water"]),
        ("name", ["Apple Juice", "Black Coffee", "Green Tea", "Oolong tea", "Water"]),
        ("-name", ["Water", "Oolong tea", "Green Tea", "Black Coffee", "Apple Juice"]),
        ("price,name", ["Water", "Apple Juice", "Green Tea", "Oolong tea", "Black Coffee"]),
        ("-price,-name", ["Black Coffee", "Oolong tea", "Green Tea", "Apple Juice", "Water"]),
    ],
)
def test_sorting(api: Api, customer_token: str, catalog: list[dict[str, Any]], sort: str, expected: list[str]) -> None:
    assert names(api.call("GET", f"/products/?sort={sort}", customer_token)) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=colour", "sort"),
        ("sort=price,", "sort"),
        ("price=abc", "price"),
        ("min_price=-1", "min_price"),
        ("max_price=1.2345", "max_price"),  # filters have no currency: up to 3 decimals
        ("stock=-1", "stock"),
        ("stock=many", "stock"),
        ("in_stock=maybe", "in_stock"),
    ],
)
def test_bad_filters_are_400(api: Api, customer_token: str, query: str, field: str) -> None:
    response = api.call("GET", f"/products/?{query}", customer_token)

    assert response.status_code == 400, response.get_json()
    assert response.mimetype == PROBLEM
    assert field in response.get_json()["errors"]


# Changing


def test_put_changes_only_the_fields_given(api: Api, manager_token: str, create: Create) -> None:
    product = create("Tea", "10.00", 5)

    response = api.call("PUT", f"/products/{product['id']}/", manager_token, json={"price": 12})

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**product, "price": "12.00"}


def test_patch_changes_a_product(api: Api, manager_token: str, create: Create) -> None:
    product = create("Tea", "10.00", 5)

    response = api.call("PATCH", f"/products/{product['id']}/", manager_token, json={"name": "Green Tea", "stock": 9})

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**product, "name": "Green Tea", "stock": 9}
    assert api.call("GET", f"/products/{product['id']}/", manager_token).get_json() == response.get_json()


# Lost-update protection: If-Match with the ETag of the GET


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_an_update_with_the_current_etag_goes_through(
    api: Api, manager_token: str, create: Create, method: str
) -> None:
    product = create("Tea", "10.00", 5)
    etag = api.call("GET", f"/products/{product['id']}/", manager_token).headers["ETag"]

    response = api.call(
        method, f"/products/{product['id']}/", manager_token, json={"stock": 7}, headers={"If-Match": etag}
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stock"] == 7
    assert response.headers["ETag"] != etag  # the new state has a new tag, ready for the next edit


def test_an_update_based_on_an_outdated_read_is_412_and_changes_nothing(
    api: Api, manager_token: str, create: Create
) -> None:
    product = create("Tea", "10.00", 5)
    path = f"/products/{product['id']}/"
    etag = api.call("GET", path, manager_token).headers["ETag"]
    assert api.call("PATCH", path, manager_token, json={"stock": 4}, headers={"If-Match": etag}).status_code == 200

    late = api.call("PATCH", path, manager_token, json={"price": "1.00"}, headers={"If-Match": etag})

    assert late.status_code == 412, late.get_json()
    assert late.mimetype == PROBLEM
    assert late.get_json()["type"] == "urn:shop:problem:precondition-failed"
    assert api.call("GET", path, manager_token).get_json() == {**product, "stock": 4}


@pytest.mark.parametrize(("if_match", "status"), [("*", 200), ('"nonsense"', 412), ('W/"weak"', 412), ("", 412)])
def test_if_match_star_means_any_and_anything_else_must_match(
    api: Api, manager_token: str, create: Create, if_match: str, status: int
) -> None:
    product = create("Tea", "10.00", 5)

    response = api.call(
        "PATCH", f"/products/{product['id']}/", manager_token, json={"stock": 1}, headers={"If-Match": if_match}
    )

    assert response.status_code == status, response.get_json()


def test_a_delete_based_on_an_outdated_read_is_412_and_the_product_stays(
    api: Api, manager_token: str, create: Create
) -> None:
    product = create("Tea", "10.00", 5)
    path = f"/products/{product['id']}/"
    etag = api.call("GET", path, manager_token).headers["ETag"]
    api.call("PATCH", path, manager_token, json={"stock": 0})

    refused = api.call("DELETE", path, manager_token, headers={"If-Match": etag})
    fresh = api.call("GET", path, manager_token).headers["ETag"]
    deleted = api.call("DELETE", path, manager_token, headers={"If-Match": fresh})

    assert (refused.status_code, deleted.status_code) == (412, 204)


def test_an_update_without_if_match_is_unconditional(api: Api, manager_token: str, create: Create) -> None:
    product = create("Tea", "10.00", 5)

    assert api.call("PATCH", f"/products/{product['id']}/", manager_token, json={"stock": 1}).status_code == 200


def test_the_api_document_offers_if_match_and_412_on_product_changes(api: Api) -> None:
    spec = api.client.get("/api/schema/").get_json()
    for method in ("put", "patch", "delete"):
        operation = spec["paths"]["/products/{product_id}/"][method]
        assert any(p["name"] == "If-Match" and p["in"] == "header" for p in operation["parameters"])
        assert "412" in operation["responses"]


def test_put_with_every_field(api: Api, manager_token: str, create: Create) -> None:
    product = create("Tea", "10.00", 5)
    body = {"name": "Coffee", "price": "99.99", "stock": 0, "currency": "USD"}

    response = api.call("PUT", f"/products/{product['id']}/", manager_token, json=body)

    assert response.status_code == 200
    assert response.get_json() == {"id": product["id"], **body}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"price": "1.234"}, "price"), ({"price": -1}, "price"), ({"stock": -1}, "stock"), ({"stock": "5"}, "stock")],
)
def test_invalid_changes_are_400_and_change_nothing(
    api: Api, manager_token: str, create: Create, body: dict[str, Any], field: str
) -> None:
    product = create("Tea", "10.00", 5)

    response = api.call("PATCH", f"/products/{product['id']}/", manager_token, json=body)

    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    assert api.call("GET", f"/products/{product['id']}/", manager_token).get_json() == product


def test_an_empty_change_is_400(api: Api, manager_token: str, create: Create) -> None:
    product = create("Tea")

    response = api.call("PATCH", f"/products/{product['id']}/", manager_token, json={})

    assert response.status_code == 400
    assert response.mimetype == PROBLEM


def test_renaming_to_a_taken_name_is_409(api: Api, manager_token: str, create: Create) -> None:
    create("Tea")
    coffee = create("Coffee")

    response = api.call("PATCH", f"/products/{coffee['id']}/", manager_token, json={"name": "Tea"})

    assert response.status_code == 409
    assert api.call("GET", f"/products/{coffee['id']}/", manager_token).get_json()["name"] == "Coffee"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_customer_cannot_change_a_product(api: Api, customer_token: str, create: Create, method: str) -> None:
    product = create("Tea", "10.00", 5)

    response = api.call(method, f"/products/{product['id']}/", customer_token, json={"stock": 0})

    assert response.status_code == 403
    assert api.call("GET", f"/products/{product['id']}/", customer_token).get_json()["stock"] == 5


def test_changing_a_missing_product_is_404(api: Api, manager_token: str) -> None:
    assert api.call("PATCH", "/products/999/", manager_token, json={"stock": 1}).status_code == 404


# Deleting


def test_a_manager_deletes_a_product(
    api: Api, manager_token: str, customer_token: str, catalog: list[dict[str, Any]]
) -> None:
    tea = catalog[0]

    response = api.call("DELETE", f"/products/{tea['id']}/", manager_token)

    assert response.status_code == 204
    assert response.data == b""
    assert api.call("GET", f"/products/{tea['id']}/", customer_token).status_code == 404
    listed = api.call("GET", "/products/", customer_token)
    assert tea["name"] not in names(listed)
    assert pagination(listed)["total"] == 4


def test_deleting_twice_is_404(api: Api, manager_token: str, create: Create) -> None:
    product = create("Tea")
    api.call("DELETE", f"/products/{product['id']}/", manager_token)

    assert api.call("DELETE", f"/products/{product['id']}/", manager_token).status_code == 404
    assert api.call("PATCH", f"/products/{product['id']}/", manager_token, json={"stock": 1}).status_code == 404


def test_a_customer_cannot_delete_a_product(api: Api, customer_token: str, create: Create) -> None:
    product = create("Tea")

    response = api.call("DELETE", f"/products/{product['id']}/", customer_token)

    assert response.status_code == 403
    assert api.call("GET", f"/products/{product['id']}/", customer_token).status_code == 200


def test_a_deleted_product_cannot_be_ordered(api: Api, manager_token: str, customer_token: str, create: Create) -> None:
    product = create("Tea")
    api.call("DELETE", f"/products/{product['id']}/", manager_token)

    response = api.call("POST", "/orders/", customer_token, json={"items": [{"product": product["id"], "quantity": 1}]})

    assert response.status_code == 400
    assert "items.0.product" in response.get_json()["errors"]


def test_past_orders_keep_a_deleted_products_name_and_price(
    api: Api, manager_token: str, customer_token: str, create: Create
) -> None:
    product = create("Tea", "7.25", 5)
    order = api.call("POST", "/orders/", customer_token, json={"items": [{"product": product["id"], "quantity": 2}]})
    api.call("DELETE", f"/products/{product['id']}/", manager_token)

    response = api.call("GET", f"/orders/{order.get_json()['id']}/", customer_token)

    assert response.status_code == 200
    line = response.get_json()["items"][0]
    assert line == {"product": product["id"], "name": "Tea", "unit_price": "7.25", "quantity": 2, "line_total": "14.50"}
    assert response.get_json()["total"] == "14.50"
