"""Concurrent orders through the real unit of work, each thread on its own connection."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

from shop.application.actors import Actor
from shop.application.orders import cancel_order, place_order
from shop.domain.errors import InsufficientStock
from shop.domain.money import Money
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from shop.domain.users import Role, User


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


def setup(uow_factory, stocks: list[int]) -> tuple[Actor, list[int]]:
    with uow_factory() as uow:
        user = User(username="buyer", password_hash="h")
        uow.users.add(user)
        products = [Product(name=f"P{i}", price=Money(Decimal("1.00"), "TWD"), stock=s) for i, s in enumerate(stocks)]
        for product in products:
            uow.products.add(product)
        uow.commit()
    return Actor(user.id, Role.CUSTOMER), [p.id for p in products]


def run_together(count: int, action: Callable[[int], str]) -> Counter[str]:
    """Start `count` actions at the same instant; count their outcomes."""
    barrier = threading.Barrier(count)

    def start(i: int) -> str:
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return Counter(pool.map(start, range(count)))


def stock_of(uow_factory, product_id: int) -> int:
    with uow_factory() as uow:
        return uow.products.get_for_update([product_id], include_deleted=True)[product_id].stock


def test_forty_orders_against_stock_ten_sell_exactly_ten(sql_uow_factory):
    actor, (product,) = setup(sql_uow_factory, [10])

    def order(_: int) -> str:
        try:
            place_order(uow=sql_uow_factory(), clock=FixedClock(), actor=actor, items=[OrderItem(product, 1)])
        except InsufficientStock:
            return "short"
        return "placed"

    outcomes = run_together(40, order)

    assert outcomes == Counter(placed=10, short=30)
    assert stock_of(sql_uow_factory, product) == 0


def test_overlapping_multi_item_orders_do_not_deadlock(sql_uow_factory):
    actor, (a, b) = setup(sql_uow_factory, [1000, 1000])

    def order(i: int) -> str:
        items = [OrderItem(a, 1), OrderItem(b, 2)] if i % 2 else [OrderItem(b, 2), OrderItem(a, 1)]
        place_order(uow=sql_uow_factory(), clock=FixedClock(), actor=actor, items=items)
        return "placed"

    outcomes = run_together(30, order)

    assert outcomes == Counter(placed=30)
    assert (stock_of(sql_uow_factory, a), stock_of(sql_uow_factory, b)) == (970, 940)


def test_cancel_and_order_at_once_keep_stock_exact(sql_uow_factory):
    actor, (product,) = setup(sql_uow_factory, [20])
    placed = [
        place_order(uow=sql_uow_factory(), clock=FixedClock(), actor=actor, items=[OrderItem(product, 1)])
        for _ in range(10)
    ]

    def act(i: int) -> str:
        if i < 10:
            order = placed[i]
            assert order.id is not None
            cancel_order(uow=sql_uow_factory(), clock=FixedClock(), actor=actor, order_id=order.id)
            return "cancelled"
        place_order(uow=sql_uow_factory(), clock=FixedClock(), actor=actor, items=[OrderItem(product, 1)])
        return "placed"

    outcomes = run_together(20, act)

    assert outcomes == Counter(cancelled=10, placed=10)
    assert stock_of(sql_uow_factory, product) == 20 - 10 - 10 + 10
