"""A quick stock adjustment is relative: what orders took meanwhile is not undone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shop.adapters.memory import MemoryStore
from shop.application.actors import Actor
from shop.application.errors import Forbidden, NotFound
from shop.domain.errors import InvalidValue
from shop.domain.events import ProductChanged
from shop.domain.money import Money
from shop.domain.products import STOCK_MAX, Product
from tests.support import UseCases

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def product(stock: int) -> Product:
    return Product(name="Lamp", price=Money(Decimal("10.00"), "TWD"), stock=stock, id=1)


@pytest.mark.parametrize(("stock", "by", "after"), [(5, 3, 8), (5, -5, 0), (0, STOCK_MAX, STOCK_MAX)])
def test_the_stock_moves_by_the_adjustment(stock: int, by: int, after: int) -> None:
    lamp = product(stock)

    lamp.adjust_stock(by, NOW)

    assert lamp.stock == after
    assert [type(e) for e in lamp.events] == [ProductChanged]
    assert isinstance(lamp.events[0], ProductChanged)
    assert lamp.events[0].fields == frozenset({"stock"})


@pytest.mark.parametrize(("stock", "by"), [(5, -6), (5, 0), (STOCK_MAX, 1)])
def test_an_adjustment_out_of_bounds_or_of_nothing_changes_nothing(stock: int, by: int) -> None:
    lamp = product(stock)

    with pytest.raises(InvalidValue) as caught:
        lamp.adjust_stock(by, NOW)

    assert list(caught.value.errors) == ["adjustment"]
    assert (lamp.stock, lamp.events) == (stock, [])


@pytest.mark.parametrize(("sent", "after"), [("+3", 8), ("-2", 3), (" 4 ", 9)])
def test_an_adjustment_is_read_from_a_form_s_text(sent: str, after: int) -> None:
    lamp = product(5)

    lamp.adjust_stock(sent, NOW)

    assert lamp.stock == after


@pytest.mark.parametrize("sent", ["²", "+-3", "--1", "five", "", "1.5"])
def test_an_adjustment_that_is_no_whole_number_is_refused(sent: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        product(5).adjust_stock(sent, NOW)

    assert caught.value.errors == {"adjustment": ["Not a valid integer."]}


def test_the_message_says_how_far_the_stock_can_move() -> None:
    with pytest.raises(InvalidValue) as caught:
        product(5).adjust_stock(-6, NOW)

    assert caught.value.errors["adjustment"] == [f"The stock is 5: it can change by -5 to {STOCK_MAX - 5}."]


def test_a_manager_adjusts_the_stock_of_a_product(use: UseCases, manager: Actor, store: MemoryStore) -> None:
    created = use.create_product(actor=manager, name="Lamp", price="1.00", stock=4)
    assert created.id is not None

    adjusted = use.adjust_stock(actor=manager, product_id=created.id, by=-3)

    assert adjusted.stock == 1
    assert store.state.products[created.id].stock == 1


def test_a_customer_cannot_adjust_the_stock(use: UseCases, manager: Actor, customer: Actor, store: MemoryStore) -> None:
    created = use.create_product(actor=manager, name="Lamp", price="1.00", stock=4)
    assert created.id is not None

    with pytest.raises(Forbidden):
        use.adjust_stock(actor=customer, product_id=created.id, by=10)

    assert store.state.products[created.id].stock == 4


def test_the_stock_of_an_unknown_product_cannot_be_adjusted(use: UseCases, manager: Actor) -> None:
    with pytest.raises(NotFound):
        use.adjust_stock(actor=manager, product_id=99, by=1)
