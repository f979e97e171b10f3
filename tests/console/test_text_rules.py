"""The text rules in the console's forms and filters, on SQLite and on PostgreSQL: a control
character is refused on the page, beside its field, in the API's words (never a 500)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from shop.domain.products import Product
from shop.entrypoints.settings import Settings
from tests.conftest import database_env
from tests.console.conftest import Console, text_of


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env(env={**database_env(database_url), "JWT_SECRET_KEY": "x" * 48}, var_dir=tmp_path)
    return replace(base, argon2_memory_kib=64, argon2_time_cost=1)


# A NUL is refused before any view runs, for every form field and query parameter (api/http.py):
# the page names the field. Other control characters reach the view, which tells them beside it.
TOLD = {"\x00": "The request is invalid: ", "\x07": "U+0007", "%00": "The request is invalid: ", "%07": "U+0007"}


@pytest.mark.parametrize("control", ["\x00", "\x07"])
def test_signing_in_with_a_control_character_in_the_username_is_refused(console: Console, control: str) -> None:
    answer = console.sign_in(f"bo{control}ss")
    assert answer.status_code == 400
    assert TOLD[control] in text_of(answer)


def test_a_control_character_in_the_username_is_told_on_the_login_page(console: Console) -> None:
    answer = console.sign_in("bo\x1bss")
    assert answer.status_code == 400
    assert "control characters" in text_of(answer)
    assert 'name="username"' in answer.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/console/products/?q=a", "/console/customers/?q=a", "/console/orders/?customer=a"])
@pytest.mark.parametrize("control", ["%00", "%07"])
def test_a_filter_with_a_control_character_is_refused(manager: Console, path: str, control: str) -> None:
    answer = manager.get(f"{path}{control}b")
    assert answer.status_code == 400
    assert TOLD[control] in text_of(answer)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/console/products/?q=a%07b", "q"),
        ("/console/customers/?q=a%07b", "q"),
        ("/console/orders/?customer=a%07b", "customer"),
    ],
)
def test_a_filter_with_a_control_character_is_told_beside_its_field(manager: Console, path: str, field: str) -> None:
    answer = manager.get(path)
    assert answer.status_code == 400
    assert "control characters" in text_of(answer)
    assert f'id="{field}-error"' in answer.get_data(as_text=True)


@pytest.mark.parametrize("control", ["\x00", "\x07"])
def test_a_product_name_with_a_control_character_is_refused(manager: Console, control: str) -> None:
    form = {"name": f"bad{control}name", "price": "10", "currency": "TWD", "stock": "1"}
    answer = manager.submit("/console/products/new", "/console/products/new", form)
    assert answer.status_code == 400
    assert TOLD[control] in text_of(answer)
    assert "0 products" in text_of(manager.get("/console/products/"))


def test_the_customer_filter_finds_a_username_whatever_its_case(
    manager: Console, add_product: Callable[..., Product]
) -> None:
    assert manager.get("/console/orders/?customer=%C3%89MILE").status_code == 200
    assert manager.get("/console/products/?q=CAF%C3%89").status_code == 200
    add_product("Caf\u00e9 cr\u00e8me")
    assert "Caf\u00e9 cr\u00e8me" in text_of(manager.get("/console/products/?q=CAF%C3%89"))
