"""The queries the console asks, over memory, SQLite and PostgreSQL alike: sales since a moment,
orders newest first, products at most this low on stock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from shop.application.ports.orders import OrderQuery, Sales
from shop.application.ports.paging import Page
from shop.application.ports.products import ProductQuery
from shop.application.ports.users import UserQuery
from shop.domain.money import Money
from shop.domain.orders import Order, OrderStatus
from shop.domain.users import Role

from .conftest import UowFactory
from .test_repository_contract import NOW, add_product, add_user, place


def cancel(uow_factory: UowFactory, order: Order) -> None:
    with uow_factory() as uow:
        stored = uow.orders.get_for_update(order.id or 0)
        assert stored is not None
        stored.cancel({}, NOW)  # the stock is not what this test counts
        uow.orders.save(stored)
        uow.commit()


def test_sales_count_every_order_since_and_the_revenue_of_those_not_cancelled(uow_factory: UowFactory) -> None:
    alice = add_user(uow_factory)
    tea = add_product(uow_factory, "Tea", "10.50", stock=50)
    mug = add_product(uow_factory, "Mug", "3.00", stock=50, currency="USD")
    place(uow_factory, alice.id or 0, (tea.id or 0, 2))
    place(uow_factory, alice.id or 0, (tea.id or 0, 1))
    place(uow_factory, alice.id or 0, (mug.id or 0, 3))
    cancel(uow_factory, place(uow_factory, alice.id or 0, (tea.id or 0, 5)))

    with uow_factory() as uow:
        since_before = uow.orders.sales(NOW - timedelta(seconds=1))
        since_after = uow.orders.sales(NOW + timedelta(microseconds=1))

    assert since_before == Sales(4, (Money(Decimal("31.50"), "TWD"), Money(Decimal("9.00"), "USD")))
    assert since_after == Sales(0, ())


def test_orders_newest_first_for_everyone_or_one_customer(uow_factory: UowFactory) -> None:
    alice, bob = add_user(uow_factory, "Alice"), add_user(uow_factory, "bob")
    tea = add_product(uow_factory, stock=50)
    first = place(uow_factory, alice.id or 0, (tea.id or 0, 1))
    second = place(uow_factory, bob.id or 0, (tea.id or 0, 1))
    third = place(uow_factory, alice.id or 0, (tea.id or 0, 1))

    with uow_factory() as uow:
        newest = uow.orders.list(OrderQuery())
        alices = uow.orders.list(OrderQuery(user_id=alice.id))
        placed_page_2 = uow.orders.list(OrderQuery(page=Page(2, 2), status=OrderStatus.PLACED))

    assert ([o.id for o in newest.items], newest.total) == ([third.id, second.id, first.id], 3)
    assert ([o.id for o in alices.items], alices.total) == ([third.id, first.id], 2)
    assert [o.id for o in placed_page_2.items] == [first.id]


def test_products_at_most_this_low_on_stock_lowest_first(uow_factory: UowFactory) -> None:
    for name, stock in (("Tea", 5), ("Mug", 0), ("Pot", 6), ("Cup", 2)):
        add_product(uow_factory, name, stock=stock)

    with uow_factory() as uow:
        low = uow.products.list(ProductQuery(max_stock=5, sort=("stock",)))

    assert ([p.name for p in low.items], low.total) == (["Mug", "Cup", "Tea"], 3)


def test_a_product_is_found_by_its_name_as_names_compare_while_it_is_in_the_catalog(uow_factory: UowFactory) -> None:
    tea = add_product(uow_factory, "Green tea")
    add_product(uow_factory, "Green tea pot")

    with uow_factory() as uow:
        found = uow.products.get_by_name("Green tea")
        alike = [uow.products.get_by_name(name) for name in ("green tea", "GREEN TEA", "\uff27reen\u200b tea")]
        others = [uow.products.get_by_name(name) for name in ("Green", "Green tea p", "Green%", "Green_tea")]
        assert found is not None
        found.delete(NOW)
        uow.products.save(found)
        uow.commit()
    with uow_factory() as uow:
        deleted = uow.products.get_by_name("Green tea")

    assert (found.id, found.name, found.stock) == (tea.id, "Green tea", 5)
    assert [p.id if p else None for p in alike] == [tea.id] * 3
    assert others == [None, None, None, None]
    assert deleted is None


def test_the_usernames_of_accounts_are_read_in_one_go(uow_factory: UowFactory) -> None:
    alice, bob, gone = add_user(uow_factory, "Alice"), add_user(uow_factory, "bob"), add_user(uow_factory, "gone")
    with uow_factory() as uow:
        closing = uow.users.get(gone.id or 0)
        assert closing is not None
        closing.deactivate(NOW)
        uow.users.save(closing)
        uow.commit()

    with uow_factory() as uow:
        names = uow.users.usernames([alice.id or 0, gone.id or 0, 999, bob.id or 0])
        nobody = uow.users.usernames([])

    assert names == {alice.id: "Alice", gone.id: "gone", bob.id: "bob"}
    assert nobody == {}


def test_accounts_are_listed_by_role(uow_factory: UowFactory) -> None:
    add_user(uow_factory, "boss", role=Role.MANAGER)
    add_user(uow_factory, "carol")
    add_user(uow_factory, "deputy", role=Role.MANAGER)
    add_user(uow_factory, "Caroline")

    def names(query: UserQuery) -> tuple[list[str], int]:
        with uow_factory() as uow:
            found = uow.users.list(query)
        return [u.username for u in found.items], found.total

    assert names(UserQuery(role=Role.CUSTOMER)) == (["carol", "Caroline"], 2)
    assert names(UserQuery(role=Role.MANAGER)) == (["boss", "deputy"], 2)
    assert names(UserQuery(role=Role.CUSTOMER, q="CAROL", page=Page(2, 1))) == (["Caroline"], 2)
    assert names(UserQuery()) == (["boss", "carol", "deputy", "Caroline"], 4)
