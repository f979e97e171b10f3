"""The stock rule, written once (adapters/sql/orders.py TAKE_STOCK): where an order would take stock
from a product that is not as it saw it, the whole transaction fails and nothing is taken.

Placing an order can't get there (it decides on the products read under their lock); this is the
database's own guard behind that decision, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from shop.application.ports.orders import OrderQuery
from shop.domain.money import Money
from shop.domain.orders import Order, OrderItem
from shop.domain.products import Product
from shop.domain.users import User

from .conftest import SqlUowFactory

NOW = datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("change", ["renamed", "repriced", "deleted", "sold out"])
def test_stock_is_taken_only_from_the_product_as_the_order_saw_it(sql_uow_factory: SqlUowFactory, change: str) -> None:
    with sql_uow_factory() as uow:
        user = User(username="buyer", password_hash="h")
        uow.users.add(user)
        tea = Product(name="Tea", price=Money(Decimal("10.00"), "TWD"), stock=5)
        cake = Product(name="Cake", price=Money(Decimal("10.00"), "TWD"), stock=5)
        uow.products.add(tea)
        uow.products.add(cake)
        uow.commit()
    assert user.id is not None and tea.id is not None and cake.id is not None
    with sql_uow_factory() as uow:  # decided on the products as they are now, without their lock
        seen = uow.products.get_many([tea.id, cake.id])
    order = Order.place(user_id=user.id, items=[OrderItem(cake.id, 1), OrderItem(tea.id, 2)], products=seen, now=NOW)
    with sql_uow_factory() as uow:  # meanwhile, a manager or another order
        product = uow.products.get_for_update([tea.id])[tea.id]
        if change == "renamed":
            product.change(name="Black tea", now=NOW)
        elif change == "repriced":
            product.change(price="11.00", now=NOW)
        elif change == "deleted":
            product.delete(NOW)
        else:
            product.change(stock=1, now=NOW)
        uow.products.save(product)
        uow.commit()
    with sql_uow_factory() as uow:
        backlog = uow.outbox.backlog().pending

    with pytest.raises(IntegrityError):
        store(sql_uow_factory, order)

    with sql_uow_factory() as uow:
        assert uow.orders.list(OrderQuery()).total == 0
        assert uow.outbox.backlog().pending == backlog
        left = uow.products.get_for_update([tea.id, cake.id], include_deleted=True)
    assert {pid: p.stock for pid, p in left.items()} == {tea.id: 1 if change == "sold out" else 5, cake.id: 5}


def store(uow_factory: SqlUowFactory, order: Order) -> None:
    with uow_factory() as uow:
        uow.orders.add(order)
        uow.commit()
