from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shop.domain.errors import InvalidValue
from shop.domain.events import ProductChanged, ProductCreated, ProductDeleted
from shop.domain.money import Money
from shop.domain.orders import Order, OrderItem
from shop.domain.products import NAME_MAX, STOCK_MAX, Product, check_name, check_stock

PRICE = Money(Decimal("10.00"), "TWD")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def product(stock: int = 5, name: str = "Widget") -> Product:
    return Product(name=name, price=PRICE, stock=stock, id=1)


def created(name: str) -> Product:
    return Product.create(name=name, price="10", currency="TWD", stock=1, now=NOW)


def test_name_is_stripped() -> None:
    assert created("  Widget \u3000").name == "Widget"
    assert check_name(" a ") == "a"


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("Matcha\u200b", "Matcha"),
        ("\u202eMatcha", "Matcha"),
        ("\uff2d\uff41\uff54\uff43\uff48\uff41", "Matcha"),
        ("Cafe\u0301", "Café"),
    ],
)
def test_names_are_stored_normalised(name: str, stored: str) -> None:
    assert created(name).name == stored
    widget = product()
    widget.change(name=name, now=NOW)
    assert widget.name == stored


@pytest.mark.parametrize(
    "name",
    ["", "   ", "\t\n", "\u200b\u200d", "x" * (NAME_MAX + 1), "bad\x00name", "bell\x07", "\x1b[31mred", "del\x7f"],
)
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        created(name)
    assert list(caught.value.errors) == ["name"]
    with pytest.raises(InvalidValue) as caught:
        product().change(name=name, now=NOW)
    assert list(caught.value.errors) == ["name"]


def test_longest_name_is_accepted_and_length_counts_after_normalising() -> None:
    assert created("x" * NAME_MAX).name == "x" * NAME_MAX
    assert created("x" * NAME_MAX + "\u200b").name == "x" * NAME_MAX
    with pytest.raises(InvalidValue):
        created("\ufdfa" * 12)  # one character, 18 once NFKC spells it out


def test_a_stored_name_is_taken_as_it_was_stored() -> None:
    assert product(name="older\x07name").name == "older\x07name"  # a rule made stricter locks nothing out


@pytest.mark.parametrize("stock", [0, 1, STOCK_MAX])
def test_stock_within_bounds(stock: int) -> None:
    assert product(stock=stock).stock == stock
    assert check_stock(stock) == stock


@pytest.mark.parametrize("stock", [-1, STOCK_MAX + 1])
def test_stock_out_of_bounds(stock: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        product(stock=stock)
    assert list(caught.value.errors) == ["stock"]


def test_take_reduces_stock_down_to_zero() -> None:
    widget = product(stock=5)
    assert widget.can_take(5)
    widget.take(2)
    assert widget.stock == 3
    widget.take(3)
    assert widget.stock == 0
    assert widget.can_take(0)
    assert not widget.can_take(1)


def test_take_more_than_stock_fails_and_changes_nothing() -> None:
    widget = product(stock=2)
    assert not widget.can_take(3)
    with pytest.raises(ValueError, match="cannot take 3 of 2"):
        widget.take(3)
    assert widget.stock == 2


def test_give_back_adds_to_stock() -> None:
    widget = product(stock=2)
    widget.give_back(3)
    assert widget.stock == 5


def test_give_back_beyond_the_bound_fails_and_changes_nothing() -> None:
    widget = product(stock=STOCK_MAX - 1)
    with pytest.raises(InvalidValue):
        widget.give_back(2)
    assert widget.stock == STOCK_MAX - 1


def test_set_stock_checks_bounds() -> None:
    widget = product(stock=2)
    widget.change(stock=7, now=NOW)
    assert widget.stock == 7
    with pytest.raises(InvalidValue):
        widget.change(stock=-1, now=NOW)
    assert widget.stock == 7


def test_deleted_products_are_not_orderable() -> None:
    widget = product()
    assert widget.orderable
    widget.deleted = True
    assert not widget.orderable


def test_creating_reads_what_a_manager_sent_and_records_the_event() -> None:
    created = Product.create(name=" Lamp ", price="10.5", currency="USD", stock=3, now=NOW)
    assert (created.name, created.price, created.stock) == ("Lamp", Money(Decimal("10.50"), "USD"), 3)
    assert created.events == [ProductCreated(product=created, occurred_at=NOW)]


def test_creating_tells_every_problem_at_once() -> None:
    with pytest.raises(InvalidValue) as caught:
        Product.create(name=" ", price="1.2345", currency="XXX1", stock=-1, now=NOW)
    assert set(caught.value.errors) == {"name", "price", "currency", "stock"}


@pytest.mark.parametrize(("sent", "count"), [(7, 7), ("7", 7), (" +7 ", 7), ("0", 0)])
def test_a_stock_is_read_from_a_number_or_from_a_form_s_text(sent: object, count: int) -> None:
    assert Product.create(name="Lamp", price="1", currency="TWD", stock=sent, now=NOW).stock == count
    assert check_stock(sent) == count


@pytest.mark.parametrize("sent", ["many", "1.5", "", "²", "+-3", "--1", "1" * 13, True, 1.0, None])
def test_a_stock_that_is_no_whole_number_is_told_with_every_other_problem(sent: object) -> None:
    with pytest.raises(InvalidValue) as caught:
        Product.create(name=" ", price="1.001", currency="TWD", stock=sent, now=NOW)
    assert caught.value.errors["stock"] == ["Not a valid integer."]
    assert set(caught.value.errors) == {"name", "price", "stock"}


def test_an_edit_reads_the_stock_of_a_form_and_tells_all_its_problems() -> None:
    widget = product(stock=2)
    widget.change(stock="9", now=NOW)
    assert widget.stock == 9
    with pytest.raises(InvalidValue) as caught:
        widget.change(name="", price="1.001", stock="nine", now=NOW)
    assert set(caught.value.errors) == {"name", "price", "stock"}
    assert widget.stock == 9


def test_one_edit_is_one_event_naming_what_changed() -> None:
    widget = product(stock=2)
    widget.change(name="Gadget", price="12", stock=2, now=NOW)
    assert widget.price == Money(Decimal("12.00"), "TWD")
    assert widget.events == [ProductChanged(product=widget, fields=frozenset({"name", "price"}), occurred_at=NOW)]


def test_a_new_currency_keeps_the_amount_and_a_new_amount_keeps_the_currency() -> None:
    widget = product()
    widget.change(currency="USD", now=NOW)
    assert widget.price == Money(Decimal("10.00"), "USD")
    widget.change(price=7, now=NOW)
    assert widget.price == Money(Decimal("7.00"), "USD")


def test_an_edit_tells_every_problem_at_once_and_changes_nothing() -> None:
    widget = product(stock=2)
    with pytest.raises(InvalidValue) as caught:
        widget.change(name="", price="-1", currency="usd", stock=-1, now=NOW)
    assert set(caught.value.errors) == {"name", "price", "currency", "stock"}
    assert (widget.name, widget.price, widget.stock, widget.events) == ("Widget", PRICE, 2, [])


def test_an_edit_that_changes_nothing_tells_nothing() -> None:
    widget = product(stock=2)
    widget.change(name="Widget", stock=2, now=NOW)
    assert widget.events == []


def test_an_invalid_edit_changes_nothing_at_all() -> None:
    widget = product(stock=2)
    with pytest.raises(InvalidValue):
        widget.change(name="Gadget", stock=-1, now=NOW)
    assert (widget.name, widget.stock, widget.events) == ("Widget", 2, [])


def test_deleting_records_the_event_and_orders_take_no_stock_event() -> None:
    widget = product(stock=2)
    widget.take(1)
    widget.give_back(1)
    widget.delete(NOW)
    assert widget.deleted
    assert widget.events == [ProductDeleted(product=widget, occurred_at=NOW)]


def test_a_product_priced_in_a_withdrawn_currency_still_sells_but_takes_no_new_price_in_it() -> None:
    rose_oil = Product(name="Rose oil", price=Money.trusted(Decimal("10.50"), "BGN"), stock=5, id=1)
    rose_oil.change(stock=7, now=NOW)

    order = Order.place(user_id=1, items=[OrderItem(1, 2)], products={1: rose_oil}, now=NOW)

    assert str(order.total) == "21.00 BGN"
    with pytest.raises(InvalidValue) as caught:
        rose_oil.change(price="11", now=NOW)
    assert list(caught.value.errors) == ["currency"]
    rose_oil.change(price="11", currency="EUR", now=NOW)
    assert str(rose_oil.price) == "11.00 EUR"
