"""The text rules in the console's forms and filters, on SQLite and on PostgreSQL: a control
character is refused on the page, beside its field, in the API's words (never a 500)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from shop.domain.products import Product
from shop.entrypoints.settings import Settings
from tests.console.conftest import Console, text_of


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env(env={"DATABASE_URL": database_url, "JWT_SECRET_KEY": "x" * 48}, var_dir=tmp_path)
    return replace(base, argon2_memory_kib=64, argon2_time_cost=1)


def test_signing_in_with_a_nul_in_the_username_is_refused_on_the_login_page(console: Console) -> None:
    answer = console.sign_in("bo\x00ss")
    assert answer.status_code == 400
    assert "control characters" in text_of(answer)
    assert 'name="username"' in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/console/products/?q=a%00b", "q"),
        ("/console/customers/?q=a%00b", "q"),
        ("/console/orders/?customer=a%00b", "customer"),
    ],
)
def test_a_filter_with_a_nul_is_refused_beside_its_field(manager: Console, path: str, field: str) -> None:
    answer = manager.get(path)
    assert answer.status_code == 400
    assert "control characters" in text_of(answer)
    assert f'id="{field}"' in answer.get_data(as_text=True)


def test_a_product_name_with_a_control_character_is_refused_beside_the_field(manager: Console) -> None:
    form = {"name": "bad\x00name", "price": "10", "currency": "TWD", "stock": "1"}
    answer = manager.submit("/console/products/new", "/console/products/new", form)
    assert answer.status_code == 400
    assert "control characters" in text_of(answer)


def test_the_customer_filter_finds_a_username_whatever_its_case(
    manager: Console, add_product: Callable[..., Product]
) -> None:
    assert manager.get("/console/orders/?customer=%C3%89MILE").status_code == 200
    assert manager.get("/console/products/?q=CAF%C3%89").status_code == 200
    add_product("Caf\u00e9 cr\u00e8me")
    assert "Caf\u00e9 cr\u00e8me" in text_of(manager.get("/console/products/?q=CAF%C3%89"))
