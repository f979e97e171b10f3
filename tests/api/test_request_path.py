"""A path a newcomer can follow: the project files one request runs, counted (docs/architecture.md
walks them). Measured on the production stack's shape: Redis caches, the cache warm for the read."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from shop.adapters.redis import versioned as cache_module
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.fakes import PASSWORD
from tests.support import use_cases

SRC = Path(__file__).resolve().parents[2] / "src" / "shop"
MOST_FILES = 10
# Placing an order still runs 37 files: the SQL adapter's four repositories it uses (each its own
# module) on the connection, engine, table and row modules, the domain's three, the outbox's message
# and its encoding. This bound only keeps it from growing; the target is MOST_FILES.
MOST_FILES_TO_ORDER = 37


def files_run(request: Callable[[], Any]) -> list[str]:
    """The files under src/shop that run a Python function while `request` is answered."""
    seen: set[str] = set()

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        if event == "call":
            seen.add(frame.f_code.co_filename)

    sys.setprofile(profile)
    try:
        request()
    finally:
        sys.setprofile(None)
    return sorted(str(Path(name).relative_to(SRC)) for name in seen if Path(name).is_relative_to(SRC))


@pytest.fixture
def shop(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[Api, str, int]:
    """(API, a customer's token, a product) on the stack as deployed: the caches in Redis."""
    monkeypatch.setattr(cache_module, "PREFIX", f"shop-test:{uuid.uuid4().hex}:")
    api = Api(create_app(replace(settings, redis_url="redis://127.0.0.1:6379/0")).test_client())
    use_cases(api.client.application).make_manager(username="boss", password=PASSWORD)
    manager = api.login("boss")["access"]
    product = api.call("POST", "/products/", manager, json={"name": "Tea", "price": "1.00", "stock": 50}).get_json()
    api.signup("carol")
    return api, api.login("carol")["access"], product["id"]


def test_a_cached_product_read_runs_at_most_ten_project_files(shop: tuple[Api, str, int]) -> None:
    api, customer, product_id = shop
    path = f"/products/{product_id}/"
    assert api.call("GET", path, customer).status_code == 200  # the cache warm, as in production

    files = files_run(lambda: api.call("GET", path, customer))

    assert len(files) <= MOST_FILES, "\n".join(files)


def test_placing_an_order_runs_no_more_project_files_than_today(shop: tuple[Api, str, int]) -> None:
    api, customer, product_id = shop
    api.call("POST", "/orders/", customer, json={"items": [{"product": product_id, "quantity": 1}]})

    def place() -> None:
        body = {"items": [{"product": product_id, "quantity": 1}]}
        assert api.call("POST", "/orders/", customer, json=body, headers={"Idempotency-Key": "k1"}).status_code == 201

    files = files_run(place)

    assert len(files) <= MOST_FILES_TO_ORDER, "\n".join(files)
