"""The overview a manager opens the console on: sales of today and of the last 7 (UTC) days, and the
products running out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from shop.application.actors import Actor
from shop.application.errors import Forbidden
from shop.application.overview import LOW_STOCK, LOW_STOCK_SHOWN
from shop.domain.money import Money
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from tests.fakes import FakeClock
from tests.support import UseCases


def test_sales_of_today_and_of_the_week_in_each_currency(
    use: UseCases, clock: FakeClock, manager: Actor, customer: Actor, add_product: Callable[..., Product]
) -> None:
    tea, mug = add_product("Tea", "2.50", stock=100), add_product("Mug", "7.00", stock=100, currency="USD")
    clock.advance(-timedelta(days=7))  # 8 days ago: in neither
    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)])
    clock.advance(timedelta(days=2))  # 6 days ago: in the week
    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 4)])
    clock.advance(timedelta(days=5, hours=-12))  # today at 00:00 UTC: in both
    use.place_order(actor=customer, items=[OrderItem(mug.id or 0, 2)])
    cancelled = use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 2)])
    use.cancel_order(actor=customer, order_id=cancelled.order["id"])
    clock.advance(timedelta(hours=12))

    seen = use.overview(actor=manager)

    assert (seen.today.orders, seen.today.revenue) == (2, (Money(Decimal("14.00"), "USD"),))
    assert seen.last_7_days.orders == 3
    assert seen.last_7_days.revenue == (Money(Decimal("10.00"), "TWD"), Money(Decimal("14.00"), "USD"))


def test_the_products_lowest_on_stock_first(use: UseCases, manager: Actor, add_product: Callable[..., Product]) -> None:
    for number in range(LOW_STOCK_SHOWN + 3):
        add_product(f"P{number}", stock=number)

    low = use.overview(actor=manager).low_on_stock

    assert [p.stock for p in low.items] == list(range(LOW_STOCK + 1))
    assert low.total == LOW_STOCK + 1


def test_customers_see_no_sales(use: UseCases, customer: Actor) -> None:
    with pytest.raises(Forbidden):
        use.overview(actor=customer)
