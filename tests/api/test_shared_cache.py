"""With the shared Redis caches: product reads never show stale stock and revocations act at
once; ETags answer 304."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import pytest

from shop.adapters.redis import versioned as cache_module
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.fakes import PASSWORD
from tests.support import use_cases


@pytest.fixture
def cached(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Api:
    prefix = f"shop-test:{uuid.uuid4().hex}:"
    monkeypatch.setattr(cache_module, "PREFIX", prefix)
    return Api(create_app(replace(settings, redis_url="redis://127.0.0.1:6379/0")).test_client())


@pytest.fixture
def shop(cached: Api) -> tuple[str, str, dict[str, Any]]:
    """(customer token, manager token, a product with stock 5) on the cached stack."""
    cached.signup("carol")
    customer = cached.login("carol")["access"]
    use_cases(cached.client.application).make_manager(username="boss", password=PASSWORD)
    manager = cached.login("boss")["access"]
    product: dict[str, Any] = cached.call(
        "POST", "/products/", manager, json={"name": "Tea", "price": "1.00", "stock": 5}
    ).get_json()
    return customer, manager, product


def test_a_cached_product_shows_the_stock_an_order_left(cached: Api, shop: tuple[str, str, dict[str, Any]]) -> None:
    customer, manager, product = shop
    path = f"/products/{product['id']}/"

    assert cached.call("GET", path, customer).get_json()["stock"] == 5
    assert cached.call("GET", "/products/", customer).get_json()[0]["stock"] == 5
    cached.call("POST", "/orders/", customer, json={"items": [{"product": product["id"], "quantity": 2}]})
    assert cached.call("GET", path, customer).get_json()["stock"] == 3
    assert cached.call("GET", "/products/", customer).get_json()[0]["stock"] == 3
    cached.call("PATCH", path, manager, json={"stock": 10})
    assert cached.call("GET", path, customer).get_json()["stock"] == 10
    cached.call("DELETE", path, manager)
    assert cached.call("GET", path, customer).status_code == 404
    assert cached.call("GET", "/products/", customer).get_json() == []


def test_order_listing_totals_follow_every_change_with_the_shared_cache(
    cached: Api, shop: tuple[str, str, dict[str, Any]]
) -> None:
    customer, manager, product = shop

    def total(token: str, query: str = "") -> int:
        response = cached.call("GET", f"/orders/{query}", token)
        assert response.status_code == 200, response.get_json()
        count: int = json.loads(response.headers["X-Pagination"])["total"]
        return count

    assert (total(customer), total(manager)) == (0, 0)
    order = cached.call(
        "POST", "/orders/", customer, json={"items": [{"product": product["id"], "quantity": 1}]}
    ).get_json()
    assert (total(customer), total(manager), total(customer, "?status=placed")) == (1, 1, 1)
    cached.call("POST", f"/orders/{order['id']}/cancel/", manager)
    assert (total(customer, "?status=placed"), total(customer, "?status=cancelled"), total(manager)) == (0, 1, 1)


def test_an_unchanged_product_answers_304_to_its_etag(api: Api, manager_token: str, customer_token: str) -> None:
    product = api.call(
        "POST", "/products/", manager_token, json={"name": "Tea", "price": "1.00", "stock": 5}
    ).get_json()
    path = f"/products/{product['id']}/"
    first = api.call("GET", path, customer_token)
    etag = first.headers["ETag"]

    again = api.call("GET", path, customer_token, headers={"If-None-Match": etag})
    api.call("PATCH", path, manager_token, json={"stock": 4})
    changed = api.call("GET", path, customer_token, headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert changed.status_code == 200
    assert changed.get_json()["stock"] == 4
    assert changed.headers["ETag"] != etag


def test_lists_carry_an_etag_too(api: Api, customer_token: str) -> None:
    first = api.call("GET", "/products/", customer_token)
    again = api.call("GET", "/products/", customer_token, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_with_the_shared_cache_revocations_still_take_effect_at_once(cached: Api) -> None:
    cached.signup("carol")
    tokens = cached.login("carol")
    assert cached.call("GET", "/products/", tokens["access"]).status_code == 200  # now cached as valid

    cached.client.post("/api/token/revoke/", json={"refresh": tokens["refresh"]})

    assert cached.call("GET", "/products/", tokens["access"]).status_code == 401


def test_with_the_shared_cache_a_password_change_ends_old_tokens_at_once(cached: Api) -> None:
    user = cached.signup("carol")
    old = cached.login("carol")["access"]
    assert cached.call("GET", f"/users/{user['id']}/", old).status_code == 200

    changed = cached.call("PUT", f"/users/{user['id']}/", old, json={"password": "another-passphrase"})

    assert changed.status_code == 200
    assert cached.call("GET", f"/users/{user['id']}/", old).status_code == 401
    assert (
        cached.call("GET", f"/users/{user['id']}/", cached.login("carol", "another-passphrase")["access"]).status_code
        == 200
    )
