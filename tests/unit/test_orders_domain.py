from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shop.domain.errors import InsufficientStock, InvalidTransition, InvalidValue, Shortage
from shop.domain.events import OrderCancelled, OrderFulfilled, OrderPlaced
from shop.domain.money import Money
from shop.domain.orders import (
    ITEMS_MAX,
    QUANTITY_MAX,
    TRANSITIONS,
    Order,
    OrderItem,
    OrderLine,
    OrderStatus,
)
from shop.domain.products import Product

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def catalog(*specs: tuple[str, str, int] | tuple[str, str, int, str]) -> dict[int, Product]:
    """Products with ids 1, 2, ... from (name, price, stock[, currency])."""
    products = {}
    for ident, spec in enumerate(specs, start=1):
        name, price, stock, *rest = spec
        currency = rest[0] if rest else "TWD"
        products[ident] = Product(name=name, price=Money(Decimal(price), currency), stock=stock, id=ident)
    return products


def stocks(products: dict[int, Product]) -> dict[int, int]:
    return {pid: p.stock for pid, p in products.items()}


def place(products: dict[int, Product], *items: tuple[int, int], user_id: int = 7) -> Order:
    return Order.place(user_id=user_id, items=[OrderItem(pid, qty) for pid, qty in items], products=products, now=NOW)


def invalid_fields(products: dict[int, Product], *items: tuple[int, int]) -> dict[str, list[str]]:
    before = stocks(products)
    with pytest.raises(InvalidValue) as caught:
        place(products, *items)
    assert stocks(products) == before, "a rejected order must not touch any stock"
    return caught.value.errors


def test_place_takes_stock_and_copies_name_and_price() -> None:
    products = catalog(("Apple", "10.50", 5), ("Pear", "0.99", 10))
    order = place(products, (1, 2), (2, 3))
    assert stocks(products) == {1: 3, 2: 7}
    assert order.user_id == 7
    assert order.status is OrderStatus.PLACED
    assert order.created_at == order.updated_at == NOW
    assert order.cancelled_at is None
    assert order.fulfilled_at is None
    assert order.lines == [
        OrderLine(1, "Apple", Money(Decimal("10.50"), "TWD"), 2),
        OrderLine(2, "Pear", Money(Decimal("0.99"), "TWD"), 3),
    ]
    assert [line.total for line in order.lines] == [Money(Decimal("21.00"), "TWD"), Money(Decimal("2.97"), "TWD")]
    assert order.total == Money(Decimal("23.97"), "TWD")
    assert order.currency == "TWD"


def test_lines_keep_their_copy_when_the_product_changes() -> None:
    products = catalog(("Apple", "10.50", 5))
    order = place(products, (1, 1))
    products[1].name = "Green apple"
    products[1].price = Money(Decimal("99.00"), "TWD")
    assert order.lines[0].name == "Apple"
    assert order.lines[0].unit_price == Money(Decimal("10.50"), "TWD")
    assert order.total == Money(Decimal("10.50"), "TWD")


def test_taking_the_whole_stock_is_allowed() -> None:
    products = catalog(("Apple", "1.00", 3))
    place(products, (1, 3))
    assert products[1].stock == 0


def test_empty_order_is_rejected() -> None:
    assert list(invalid_fields(catalog(("Apple", "1.00", 3)))) == ["items"]


def test_at_most_items_max_items() -> None:
    products = catalog(*[(f"p{i}", "1.00", 1) for i in range(ITEMS_MAX + 1)])
    errors = invalid_fields(products, *[(pid, 1) for pid in range(1, ITEMS_MAX + 2)])
    assert list(errors) == ["items"]
    assert str(ITEMS_MAX) in errors["items"][0]
    order = place(products, *[(pid, 1) for pid in range(1, ITEMS_MAX + 1)])
    assert len(order.lines) == ITEMS_MAX
    assert order.total == Money(Decimal(ITEMS_MAX), "TWD")


@pytest.mark.parametrize("quantity", [0, -1, QUANTITY_MAX + 1])
def test_quantity_out_of_bounds(quantity: int) -> None:
    products = catalog(("Apple", "1.00", QUANTITY_MAX + 5), ("Pear", "1.00", 5))
    errors = invalid_fields(products, (2, 1), (1, quantity))
    assert list(errors) == ["items.1.quantity"]


def test_quantity_max_is_allowed() -> None:
    products = catalog(("Apple", "1.00", QUANTITY_MAX))
    order = place(products, (1, QUANTITY_MAX))
    assert products[1].stock == 0
    assert order.total == Money(Decimal(QUANTITY_MAX), "TWD")


def test_duplicate_product_is_rejected() -> None:
    products = catalog(("Apple", "1.00", 5))
    errors = invalid_fields(products, (1, 1), (1, 2))
    assert list(errors) == ["items.1.product"]
    assert "more than once" in errors["items.1.product"][0]


def test_unknown_product_is_rejected() -> None:
    products = catalog(("Apple", "1.00", 5))
    errors = invalid_fields(products, (1, 1), (42, 1))
    assert list(errors) == ["items.1.product"]
    assert "42" in errors["items.1.product"][0]


def test_deleted_product_is_rejected_even_when_given() -> None:
    products = catalog(("Apple", "1.00", 5))
    products[1].deleted = True
    errors = invalid_fields(products, (1, 1))
    assert list(errors) == ["items.0.product"]


def test_every_invalid_item_is_reported_at_once() -> None:
    products = catalog(("Apple", "1.00", 5), ("Pear", "1.00", 5))
    errors = invalid_fields(products, (99, 1), (1, 0), (2, 1), (2, 1))
    assert set(errors) == {"items.0.product", "items.1.quantity", "items.3.product"}


def test_one_currency_per_order() -> None:
    products = catalog(("Apple", "1.00", 5, "TWD"), ("Pear", "1.00", 5, "USD"))
    errors = invalid_fields(products, (1, 1), (2, 1))
    assert list(errors) == ["items"]
    assert "TWD, USD" in errors["items"][0]
    order = place(catalog(("Apple", "1.00", 5, "USD"), ("Pear", "2.00", 5, "USD")), (1, 1), (2, 1))
    assert order.total == Money(Decimal("3.00"), "USD")


def test_insufficient_stock_lists_every_short_product_and_takes_nothing() -> None:
    products = catalog(("Apple", "1.00", 5), ("Pear", "1.00", 1), ("Plum", "1.00", 0))
    with pytest.raises(InsufficientStock) as caught:
        place(products, (1, 5), (2, 2), (3, 1))
    assert caught.value.shortages == [Shortage(2, "Pear", 2, 1), Shortage(3, "Plum", 1, 0)]
    assert "Pear (requested 2, available 1)" in str(caught.value)
    assert "Plum (requested 1, available 0)" in str(caught.value)
    assert stocks(products) == {1: 5, 2: 1, 3: 0}


ALL_PAIRS = list(itertools.product(OrderStatus, OrderStatus))
ALLOWED = {(OrderStatus.PLACED, OrderStatus.CANCELLED), (OrderStatus.PLACED, OrderStatus.FULFILLED)}


def order_in(status: OrderStatus) -> Order:
    line = OrderLine(1, "Apple", Money(Decimal("1.00"), "TWD"), 2)
    return Order(user_id=1, lines=[line], created_at=NOW, status=status, id=1)


def test_transition_table_is_exactly_the_allowed_pairs() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("current", "wanted"), sorted(ALLOWED))
def test_allowed_transitions(current: OrderStatus, wanted: OrderStatus) -> None:
    order = order_in(current)
    order.change_status(wanted, LATER)
    assert order.status is wanted
    assert order.updated_at == LATER
    assert order.created_at == NOW


@pytest.mark.parametrize(("current", "wanted"), [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_every_other_transition_is_refused(current: OrderStatus, wanted: OrderStatus) -> None:
    order = order_in(current)
    with pytest.raises(InvalidTransition) as caught:
        order.change_status(wanted, LATER)
    assert (caught.value.current, caught.value.wanted) == (current.value, wanted.value)
    assert order.status is current
    assert order.updated_at == NOW


def test_cancel_restocks_every_line_and_stamps_the_time() -> None:
    products = catalog(("Apple", "1.00", 5), ("Pear", "1.00", 5))
    order = place(products, (1, 2), (2, 5))
    products[2].deleted = True  # a deleted product still gets its stock back
    order.cancel(products, LATER)
    assert stocks(products) == {1: 5, 2: 5}
    assert order.status is OrderStatus.CANCELLED
    assert order.cancelled_at == order.updated_at == LATER
    assert order.fulfilled_at is None


def test_cancel_skips_products_that_are_missing() -> None:
    products = catalog(("Apple", "1.00", 5), ("Pear", "1.00", 5))
    order = place(products, (1, 2), (2, 1))
    del products[2]
    order.cancel(products, LATER)
    assert products[1].stock == 5


def test_fulfil_keeps_the_stock_taken() -> None:
    products = catalog(("Apple", "1.00", 5))
    order = place(products, (1, 2))
    order.fulfil(LATER)
    assert order.status is OrderStatus.FULFILLED
    assert order.fulfilled_at == order.updated_at == LATER
    assert order.cancelled_at is None
    assert products[1].stock == 3


@pytest.mark.parametrize("first", ["cancel", "fulfil"])
def test_a_closed_order_cannot_be_cancelled_and_gives_no_stock_back(first: str) -> None:
    products = catalog(("Apple", "1.00", 5))
    order = place(products, (1, 2))
    if first == "cancel":
        order.cancel(products, LATER)
    else:
        order.fulfil(LATER)
    stock = products[1].stock
    with pytest.raises(InvalidTransition):
        order.cancel(products, LATER + timedelta(hours=1))
    with pytest.raises(InvalidTransition):
        order.fulfil(LATER + timedelta(hours=1))
    assert products[1].stock == stock
    assert order.updated_at == LATER


def test_each_step_of_the_lifecycle_records_its_event() -> None:
    products = catalog(("Apple", "1.00", 5))
    placed = place(products, (1, 2))
    cancelled = place(products, (1, 1))
    cancelled.cancel(products, LATER)
    placed.fulfil(LATER)

    assert placed.events == [
        OrderPlaced(order=placed, occurred_at=NOW),
        OrderFulfilled(order=placed, occurred_at=LATER),
    ]
    assert cancelled.events == [
        OrderPlaced(order=cancelled, occurred_at=NOW),
        OrderCancelled(order=cancelled, occurred_at=LATER),
    ]


def test_a_refused_change_records_nothing() -> None:
    products = catalog(("Apple", "1.00", 5))
    order = place(products, (1, 2))
    order.events.clear()
    order.fulfil(LATER)
    with pytest.raises(InvalidTransition):
        order.cancel(products, LATER)
    assert order.events == [OrderFulfilled(order=order, occurred_at=LATER)]
    with pytest.raises(InsufficientStock):
        place(products, (1, 4))
