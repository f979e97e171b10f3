"""One suite, three adapters: the in-memory fakes can never drift from SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shop.application import representations
from shop.application.errors import AlreadyExists
from shop.application.messagebus import MessageBus
from shop.application.messages import Message
from shop.application.ports.idempotency import StoredPlacement
from shop.application.ports.orders import OrderQuery
from shop.application.ports.outbox import Backlog
from shop.application.ports.paging import Page
from shop.application.ports.products import ProductQuery
from shop.application.ports.tokens import AccessState, RefreshToken
from shop.application.ports.unit_of_work import UnitOfWork
from shop.application.ports.users import UserQuery
from shop.domain.errors import InvalidValue
from shop.domain.events import OrderPlaced
from shop.domain.money import Money
from shop.domain.orders import Order, OrderItem, OrderStatus
from shop.domain.products import Product
from shop.domain.users import Role, User

from .conftest import UowFactory

NOW = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def add_user(uow_factory: UowFactory, username: str = "alice", **kwargs: Any) -> User:
    user = User(username=username, password_hash="hash", **kwargs)
    with uow_factory() as uow:
        uow.users.add(user)
        uow.commit()
    return user


def add_product(
    uow_factory: UowFactory, name: str = "Tea", price: str = "10.00", stock: int = 5, currency: str = "TWD"
) -> Product:
    product = Product(name=name, price=Money(Decimal(price), currency), stock=stock)
    with uow_factory() as uow:
        uow.products.add(product)
        uow.commit()
    return product


def place(uow_factory: UowFactory, user_id: int, *items: tuple[int, int], now: datetime = NOW) -> Order:
    with uow_factory() as uow:
        uow.orders.reserve_id()  # as placing an order does: before the products' locks
        products = uow.products.get_for_update([pid for pid, _ in items])
        order = Order.place(user_id=user_id, items=[OrderItem(p, q) for p, q in items], products=products, now=now)
        uow.orders.add(order)
        uow.commit()
    return order


def keep(uow_factory: UowFactory, placement: StoredPlacement, stale_before: datetime = NOW) -> None:
    """Claim a key and keep its answer, in one transaction, as placing an order does."""
    with uow_factory() as uow:
        assert uow.idempotency.claim(replace(placement, order=None), stale_before) is None
        uow.idempotency.keep(placement)
        uow.commit()


def stocks(uow_factory: UowFactory, *product_ids: int) -> dict[int | None, int]:
    with uow_factory() as uow:
        return {p.id: p.stock for p in uow.products.get_for_update(list(product_ids), include_deleted=True).values()}


def revoked(uow: UnitOfWork, user_id: int, jti: str, family: str) -> bool:
    state = uow.tokens.access_state(user_id, jti, family)
    assert state is not None
    return state.revoked


class TestUsers:
    def test_round_trip_keeps_every_field(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory, email="a@example.com", age=30, phone="+886 2", role=Role.MANAGER)
        assert user.id is not None
        with uow_factory() as uow:
            loaded = uow.users.get(user.id)
            by_name = uow.users.get_by_username("alice")
        assert loaded is not None and by_name is not None
        assert (loaded.id, loaded.username, loaded.email, loaded.age, loaded.phone, loaded.role) == (
            user.id,
            "alice",
            "a@example.com",
            30,
            "+886 2",
            Role.MANAGER,
        )
        assert by_name.id == user.id and loaded.active and loaded.token_version == 0

    def test_get_for_update_reads_the_user_or_none(self, uow_factory: UowFactory) -> None:
        alice = add_user(uow_factory)
        assert alice.id is not None
        with uow_factory() as uow:
            locked, missing = uow.users.get_for_update(alice.id), uow.users.get_for_update(alice.id + 1)
        assert locked is not None and (locked.id, locked.username) == (alice.id, "alice")
        assert missing is None

    def test_duplicate_username_is_refused(self, uow_factory: UowFactory) -> None:
        add_user(uow_factory)
        with pytest.raises(AlreadyExists), uow_factory() as uow:
            uow.users.add(User(username="alice", password_hash="other"))

    def test_renaming_onto_a_taken_username_is_refused(self, uow_factory: UowFactory) -> None:
        add_user(uow_factory)
        bob = add_user(uow_factory, "bob")
        bob.username = "alice"
        with pytest.raises(AlreadyExists), uow_factory() as uow:
            uow.users.save(bob)

    @pytest.mark.parametrize("variant", ["Alice", "ALICE", "aLiCe"])
    def test_usernames_differing_only_in_case_are_the_same_name(self, uow_factory: UowFactory, variant: str) -> None:
        alice = add_user(uow_factory)
        with uow_factory() as uow:
            found = uow.users.get_by_username(variant)
        assert found is not None and found.id == alice.id
        with pytest.raises(AlreadyExists), uow_factory() as uow:
            uow.users.add(User(username=variant, password_hash="other"))
        bob = add_user(uow_factory, "bob")
        bob.username = variant
        with pytest.raises(AlreadyExists), uow_factory() as uow:
            uow.users.save(bob)

    def test_a_user_may_change_the_case_of_their_own_name(self, uow_factory: UowFactory) -> None:
        alice = add_user(uow_factory)
        alice.username = "Alice"
        with uow_factory() as uow:
            uow.users.save(alice)
            uow.commit()
        with uow_factory() as uow:
            found = uow.users.get_by_username("alice")
        assert found is not None and found.username == "Alice"

    def test_save_writes_changes_and_list_skips_inactive(self, uow_factory: UowFactory) -> None:
        alice = add_user(uow_factory)
        assert alice.id is not None
        add_user(uow_factory, "bob")
        alice.deactivate(NOW)
        with uow_factory() as uow:
            uow.users.save(alice)
            uow.commit()
        with uow_factory() as uow:
            listed, total = uow.users.list(UserQuery(page=Page(1, 10)))
            reloaded = uow.users.get(alice.id)
        assert [u.username for u in listed] == ["bob"] and total == 1
        assert reloaded is not None and not reloaded.active and reloaded.token_version == 1

    def test_list_gives_closed_accounts_when_asked(self, uow_factory: UowFactory) -> None:
        for name, active in (("alice", False), ("bob", True), ("Alina", False)):
            add_user(uow_factory, name, active=active)
        with uow_factory() as uow:
            closed = uow.users.list(UserQuery(page=Page(1, 10), active=False))
            closed_ali = uow.users.list(UserQuery(page=Page(1, 10), active=False, q="ALI"))
            second = uow.users.list(UserQuery(page=Page(2, 1), active=False))
        assert ([u.username for u in closed.items], closed.total) == (["alice", "Alina"], 2)
        assert [u.username for u in closed_ali.items] == ["alice", "Alina"]
        assert ([u.username for u in second.items], second.total) == (["Alina"], 2)

    def test_list_finds_a_piece_of_the_username_whatever_its_case(self, uow_factory: UowFactory) -> None:
        for name in ("Alice", "malika", "bob", "Ali_1"):
            add_user(uow_factory, name)

        def names(q: str, page: Page = Page(1, 10)) -> tuple[list[str], int]:
            with uow_factory() as uow:
                found, total = uow.users.list(UserQuery(page=page, q=q))
            return [u.username for u in found], total

        assert names("ALI") == (["Alice", "malika", "Ali_1"], 3)
        assert names("ali", Page(2, 2)) == (["Ali_1"], 3)
        assert names("i_") == (["Ali_1"], 1)  # LIKE's wildcards are plain characters here
        assert names("%") == ([], 0)
        assert names("zed") == ([], 0)

    @pytest.mark.parametrize("variant", ["\u00c9MILE", "e\u0301mile", "\u00e9mile\u200b", "\uff45\u0301mile"])
    def test_usernames_differing_in_case_width_or_invisible_characters_are_one_name(
        self, uow_factory: UowFactory, variant: str
    ) -> None:
        emile = add_user(uow_factory, "\u00c9mile")
        with uow_factory() as uow:
            found = uow.users.get_by_username(variant)
        assert found is not None and found.id == emile.id
        with pytest.raises(AlreadyExists), uow_factory() as uow:
            uow.users.add(User(username=variant, password_hash="other"))

    def test_list_finds_a_piece_of_a_username_of_any_script_whatever_its_case(self, uow_factory: UowFactory) -> None:
        for name in ("\u00c9mile", "\u9673\u5c0f\u660e", "Stra\u00dfe", "emil"):
            add_user(uow_factory, name)
        with uow_factory() as uow:
            found = {
                q: [u.username for u in uow.users.list(UserQuery(q=q)).items] for q in ("\u00c9MI", "\u5c0f", "SS")
            }
        assert found == {"\u00c9MI": ["\u00c9mile"], "\u5c0f": ["\u9673\u5c0f\u660e"], "SS": ["Stra\u00dfe"]}

    @pytest.mark.parametrize("bad", ["a\x00b", "\x1b[31m", "a\x7f"])
    def test_a_control_character_in_a_looked_up_name_is_refused_naming_the_field(
        self, uow_factory: UowFactory, bad: str
    ) -> None:
        with pytest.raises(InvalidValue) as by_name, uow_factory() as uow:
            uow.users.get_by_username(bad)
        with pytest.raises(InvalidValue) as by_piece, uow_factory() as uow:
            uow.users.list(UserQuery(q=bad))
        assert (list(by_name.value.errors), list(by_piece.value.errors)) == (["username"], ["q"])

    def test_without_commit_nothing_is_stored(self, uow_factory: UowFactory) -> None:
        with uow_factory() as uow:
            uow.users.add(User(username="ghost", password_hash="h"))
        with uow_factory() as uow:
            assert uow.users.get_by_username("ghost") is None


class TestProducts:
    def test_round_trip_keeps_exact_money(self, uow_factory: UowFactory) -> None:
        product = add_product(uow_factory, price="99999999.99", currency="USD")
        assert product.id is not None
        with uow_factory() as uow:
            loaded = uow.products.get(product.id)
        assert loaded is not None
        assert loaded.price == Money(Decimal("99999999.99"), "USD")
        assert (loaded.name, loaded.stock) == ("Tea", 5)

    @pytest.mark.parametrize(("price", "currency"), [("1.235", "KWD"), ("99999999.999", "BHD"), ("1500", "JPY")])
    def test_round_trip_keeps_the_decimals_of_every_currency(
        self, uow_factory: UowFactory, price: str, currency: str
    ) -> None:
        product = add_product(uow_factory, price=price, currency=currency)
        assert product.id is not None
        with uow_factory() as uow:
            loaded = uow.products.get(product.id)
            by_price = uow.products.list(ProductQuery(price=Decimal(price))).items
            cheaper = uow.products.list(ProductQuery(max_price=Decimal(price) - Decimal("0.001"))).items
        assert loaded is not None and loaded.price == Money(Decimal(price), currency)
        assert loaded.price.amount_text == price
        assert [p.id for p in by_price] == [product.id] and cheaper == []

    def test_names_are_unique_among_live_products_only(self, uow_factory: UowFactory) -> None:
        tea = add_product(uow_factory)
        with pytest.raises(AlreadyExists), uow_factory() as uow:
            uow.products.add(Product(name="Tea", price=Money(Decimal(1), "TWD"), stock=1))
        tea.deleted = True
        with uow_factory() as uow:
            uow.products.save(tea)
            uow.commit()
        again = add_product(uow_factory)
        assert again.id != tea.id

    @pytest.mark.parametrize("variant", ["MATCHA", "Matcha\u200b", "\uff2d\uff41\uff54\uff43\uff48\uff41", "matcha"])
    def test_names_differing_in_case_width_or_invisible_characters_are_one_name(
        self, uow_factory: UowFactory, variant: str
    ) -> None:
        add_product(uow_factory, "Matcha")
        with pytest.raises(AlreadyExists), uow_factory() as uow:
            uow.products.add(Product(name=variant, price=Money(Decimal(1), "TWD"), stock=1))
        tea = add_product(uow_factory, "Tea")
        tea.name = variant
        with pytest.raises(AlreadyExists), uow_factory() as uow:
            uow.products.save(tea)

    def test_a_product_may_change_the_case_of_its_own_name(self, uow_factory: UowFactory) -> None:
        matcha = add_product(uow_factory, "Matcha")
        matcha.name = "MATCHA"
        with uow_factory() as uow:
            uow.products.save(matcha)
            uow.commit()
        with uow_factory() as uow:
            assert [p.name for p in uow.products.list(ProductQuery(q="matcha")).items] == ["MATCHA"]

    def test_search_and_sort_by_name_are_the_same_on_every_database(self, uow_factory: UowFactory) -> None:
        for name in ("Caf\u00e9 cr\u00e8me", "\u00c4pfel", "\u00e4ndern", "Stra\u00dfe", "Cafe"):
            add_product(uow_factory, name)

        def names(**kwargs: Any) -> list[str]:
            with uow_factory() as uow:
                return [p.name for p in uow.products.list(ProductQuery(**kwargs)).items]

        assert names(q="CAF\u00c9") == ["Caf\u00e9 cr\u00e8me"]
        assert names(q="\u00c4") == ["\u00c4pfel", "\u00e4ndern"]
        assert names(q="STRASSE") == ["Stra\u00dfe"]
        assert names(q="caf") == ["Caf\u00e9 cr\u00e8me", "Cafe"]
        assert names(sort=("name",)) == ["Cafe", "Caf\u00e9 cr\u00e8me", "Stra\u00dfe", "\u00e4ndern", "\u00c4pfel"]

    def test_a_control_character_in_a_search_is_refused_naming_the_field(self, uow_factory: UowFactory) -> None:
        with pytest.raises(InvalidValue) as caught, uow_factory() as uow:
            uow.products.list(ProductQuery(q="a\x00b"))
        assert list(caught.value.errors) == ["q"]

    def test_deleted_products_are_hidden_except_when_asked(self, uow_factory: UowFactory) -> None:
        tea = add_product(uow_factory)
        assert tea.id is not None
        tea.deleted = True
        with uow_factory() as uow:
            uow.products.save(tea)
            uow.commit()
        with uow_factory() as uow:
            assert uow.products.get(tea.id) is None
            assert uow.products.get_for_update([tea.id]) == {}
            assert list(uow.products.get_for_update([tea.id], include_deleted=True)) == [tea.id]
            assert uow.products.list(ProductQuery()) == ([], 0)

    def test_filters_sort_and_pages(self, uow_factory: UowFactory) -> None:
        add_product(uow_factory, "Green tea", "10.00", 0)
        add_product(uow_factory, "Coffee", "25.50", 3)
        add_product(uow_factory, "Black TEA", "5.25", 8)
        add_product(uow_factory, "Water", "10.00", 1)

        def names(**kwargs: Any) -> tuple[list[str], int]:
            with uow_factory() as uow:
                found, total = uow.products.list(ProductQuery(**kwargs))
            return [p.name for p in found], total

        assert names() == (["Green tea", "Coffee", "Black TEA", "Water"], 4)
        assert names(q="tea") == (["Green tea", "Black TEA"], 2)
        assert names(q="%") == ([], 0)
        assert names(price=Decimal("10.00")) == (["Green tea", "Water"], 2)
        assert names(stock=3) == (["Coffee"], 1)
        assert names(min_price=Decimal("10"), max_price=Decimal("20")) == (["Green tea", "Water"], 2)
        assert names(in_stock=True) == (["Coffee", "Black TEA", "Water"], 3)
        assert names(in_stock=False) == (["Green tea"], 1)
        assert names(sort=("-price",)) == (["Coffee", "Green tea", "Water", "Black TEA"], 4)
        assert names(sort=("price", "-stock")) == (["Black TEA", "Water", "Green tea", "Coffee"], 4)
        assert names(sort=("name",)) == (["Black TEA", "Coffee", "Green tea", "Water"], 4)
        assert names(page=Page(2, 3)) == (["Water"], 4)
        assert names(page=Page(3, 3)) == ([], 4)


class TestOrders:
    def test_round_trip_with_lines_and_timestamps(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory)
        tea = add_product(uow_factory, price="10.50")
        cake = add_product(uow_factory, "Cake", "3.00")
        assert user.id is not None and tea.id is not None and cake.id is not None
        order = place(uow_factory, user.id, (cake.id, 1), (tea.id, 2))
        assert order.id is not None
        with uow_factory() as uow:
            loaded = uow.orders.get(order.id)
            stock = {p.id: p.stock for p in uow.products.get_for_update([tea.id, cake.id]).values()}
        assert loaded is not None
        assert [(line.product_id, line.name, line.unit_price, line.quantity) for line in loaded.lines] == [
            (cake.id, "Cake", Money(Decimal("3.00"), "TWD"), 1),
            (tea.id, "Tea", Money(Decimal("10.50"), "TWD"), 2),
        ]
        assert loaded.total == Money(Decimal("24.00"), "TWD")
        assert loaded.created_at == NOW and loaded.updated_at == NOW and loaded.status is OrderStatus.PLACED
        assert stock == {tea.id: 3, cake.id: 4}

    @pytest.mark.parametrize(
        ("currency", "prices", "total"), [("KWD", ("1.235", "0.005"), "2.480"), ("JPY", ("1500", "80"), "3100")]
    )
    def test_an_order_keeps_the_decimals_of_its_currency(
        self, uow_factory: UowFactory, currency: str, prices: tuple[str, str], total: str
    ) -> None:
        user = add_user(uow_factory)
        first = add_product(uow_factory, "First", prices[0], 10, currency)
        second = add_product(uow_factory, "Second", prices[1], 1000, currency)
        assert user.id is not None and first.id is not None and second.id is not None
        order = place(uow_factory, user.id, (first.id, 1), (second.id, 249 if currency == "KWD" else 20))
        assert order.id is not None
        with uow_factory() as uow:
            loaded = uow.orders.get(order.id)
            sales = uow.orders.sales(NOW)
        assert loaded is not None
        assert [line.unit_price.amount_text for line in loaded.lines] == list(prices)
        assert loaded.total.amount_text == total
        assert [str(money) for money in sales.revenue] == [f"{total} {currency}"]

    def test_get_many_reads_live_products_only(self, uow_factory: UowFactory) -> None:
        tea = add_product(uow_factory)
        gone = add_product(uow_factory, "Gone")
        assert tea.id is not None and gone.id is not None
        with uow_factory() as uow:
            product = uow.products.get_for_update([gone.id])[gone.id]
            product.delete(NOW)
            uow.products.save(product)
            uow.commit()
        with uow_factory() as uow:
            assert list(uow.products.get_many([tea.id, gone.id, 999])) == [tea.id]
            assert uow.products.get_many([]) == {}

    def test_an_order_keeps_the_order_of_its_lines_and_takes_what_other_orders_left(
        self, uow_factory: UowFactory
    ) -> None:
        user = add_user(uow_factory)
        tea = add_product(uow_factory, stock=5)
        cake = add_product(uow_factory, "Cake", stock=5)
        assert user.id is not None and tea.id is not None and cake.id is not None
        first = place(uow_factory, user.id, (cake.id, 2), (tea.id, 1))
        place(uow_factory, user.id, (tea.id, 3))
        assert first.id is not None
        with uow_factory() as uow:
            loaded = uow.orders.get(first.id)
        assert loaded is not None
        assert [line.product_id for line in loaded.lines] == [cake.id, tea.id]
        assert stocks(uow_factory, tea.id, cake.id) == {tea.id: 1, cake.id: 3}

    def test_status_changes_are_saved(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory)
        tea = add_product(uow_factory)
        assert user.id is not None and tea.id is not None
        order = place(uow_factory, user.id, (tea.id, 1))
        assert order.id is not None
        later = NOW + timedelta(hours=1)
        with uow_factory() as uow:
            locked = uow.orders.get_for_update(order.id)
            assert locked is not None
            locked.fulfil(later)
            uow.orders.save(locked)
            uow.commit()
        with uow_factory() as uow:
            loaded = uow.orders.get(order.id)
        assert loaded is not None
        assert (loaded.status, loaded.fulfilled_at, loaded.updated_at) == (OrderStatus.FULFILLED, later, later)

    def test_list_filters_by_user_and_status_and_pages(self, uow_factory: UowFactory) -> None:
        alice = add_user(uow_factory)
        bob = add_user(uow_factory, "bob")
        tea = add_product(uow_factory, stock=100)
        assert alice.id is not None and bob.id is not None and tea.id is not None
        first = place(uow_factory, alice.id, (tea.id, 1))
        second = place(uow_factory, bob.id, (tea.id, 2))
        third = place(uow_factory, alice.id, (tea.id, 3))
        assert third.id is not None
        with uow_factory() as uow:
            cancelled = uow.orders.get_for_update(third.id)
            assert cancelled is not None
            cancelled.change_status(OrderStatus.CANCELLED, NOW)
            uow.orders.save(cancelled)
            uow.commit()

        def ids(**kwargs: Any) -> tuple[list[int | None], int]:
            query = OrderQuery(**kwargs)
            with uow_factory() as uow:
                found, total = uow.orders.list(query)
            return [o.id for o in found], total

        assert ids() == ([third.id, second.id, first.id], 3)  # newest first, ties by id
        assert ids(user_id=alice.id) == ([third.id, first.id], 2)
        assert ids(status=OrderStatus.CANCELLED) == ([third.id], 1)
        assert ids(page=Page(2, 2)) == ([first.id], 3)
        assert ids(page=Page(3, 2)) == ([], 3)
        assert ids(page=Page(2**40, 20)) == ([], 3)  # beyond any offset SQL takes
        with uow_factory() as uow:
            found, _ = uow.orders.list(OrderQuery())
        assert [len(o.lines) for o in found] == [1, 1, 1]

    def test_list_sorts_by_each_key_both_ways_ties_going_by_id(self, uow_factory: UowFactory) -> None:
        alice, bob = add_user(uow_factory), add_user(uow_factory, "bob")
        tea, cake = add_product(uow_factory, stock=100), add_product(uow_factory, "Cake", "3.00", stock=100)
        assert alice.id is not None and bob.id is not None and tea.id is not None and cake.id is not None
        hour = timedelta(hours=1)
        o1 = place(uow_factory, alice.id, (tea.id, 1), now=NOW + 2 * hour)  # 10.00, placed
        o2 = place(uow_factory, bob.id, (tea.id, 3), now=NOW)  # 30.00, cancelled below
        o3 = place(uow_factory, alice.id, (cake.id, 2), now=NOW + hour)  # 6.00, fulfilled below
        o4 = place(uow_factory, alice.id, (tea.id, 1), now=NOW + hour)  # 10.00, placed
        for order, status in ((o2, OrderStatus.CANCELLED), (o3, OrderStatus.FULFILLED)):
            with uow_factory() as uow:
                locked = uow.orders.get_for_update(order.id or 0)
                assert locked is not None
                locked.change_status(status, NOW + 3 * hour)
                uow.orders.save(locked)
                uow.commit()
        n = {o.id: name for o, name in ((o1, "o1"), (o2, "o2"), (o3, "o3"), (o4, "o4"))}

        def listed(*sort: str, page: Page = Page(1, 10), **kwargs: Any) -> list[str]:
            query = OrderQuery(page=page, sort=sort, **kwargs) if sort else OrderQuery(page=page, **kwargs)
            with uow_factory() as uow:
                found = uow.orders.list(query)
            return [n[o.id] for o in found.items]

        assert listed() == listed("-created_at") == ["o1", "o4", "o3", "o2"]  # the default, newest first
        assert listed("created_at") == ["o2", "o3", "o4", "o1"]
        assert listed("id") == ["o1", "o2", "o3", "o4"]
        assert listed("-id") == ["o4", "o3", "o2", "o1"]
        assert listed("total") == ["o3", "o1", "o4", "o2"]
        assert listed("-total") == ["o2", "o4", "o1", "o3"]
        assert listed("status") == ["o2", "o3", "o1", "o4"]  # cancelled, fulfilled, placed
        assert listed("-status") == ["o4", "o1", "o3", "o2"]
        assert listed("status", "-total") == ["o2", "o3", "o4", "o1"]
        assert listed("-total", "created_at") == ["o2", "o4", "o1", "o3"]
        assert listed("status", "id") == ["o2", "o3", "o1", "o4"]
        assert listed("-total", page=Page(2, 2)) == ["o1", "o3"]
        assert listed("total", user_id=alice.id, status=OrderStatus.PLACED) == ["o1", "o4"]

    def test_totals_sort_to_the_last_of_three_decimals(self, uow_factory: UowFactory) -> None:
        alice = add_user(uow_factory)
        dearer, cheaper = (
            add_product(uow_factory, "Dearer", "1.234", 9, "KWD"),
            add_product(uow_factory, "Cheaper", "1.231", 9, "KWD"),
        )
        assert alice.id is not None and dearer.id is not None and cheaper.id is not None
        first = place(uow_factory, alice.id, (dearer.id, 1))  # both 1.23 in cents
        second = place(uow_factory, alice.id, (cheaper.id, 1))
        with uow_factory() as uow:
            by_total = uow.orders.list(OrderQuery(sort=("total",))).items
        assert [o.id for o in by_total] == [second.id, first.id]


class TestTokens:
    def _token(
        self, uow_factory: UowFactory, jti: str = "j1", family: str = "f1", expires: datetime = NOW + timedelta(days=1)
    ) -> RefreshToken:
        user = add_user(uow_factory)
        assert user.id is not None
        token = RefreshToken(jti=jti, family=family, user_id=user.id, expires_at=expires)
        with uow_factory() as uow:
            uow.tokens.add_refresh(token)
            uow.commit()
        return token

    def test_a_refresh_token_can_be_used_once(self, uow_factory: UowFactory) -> None:
        token = self._token(uow_factory)
        with uow_factory() as uow:
            assert uow.tokens.use_refresh("j1", NOW) == token
            assert uow.tokens.use_refresh("j1", NOW) is None
            assert uow.tokens.use_refresh("unknown", NOW) is None
            uow.commit()

    def test_an_expired_refresh_token_is_neither_usable_nor_used(self, uow_factory: UowFactory) -> None:
        self._token(uow_factory, expires=NOW + timedelta(seconds=1))
        later = NOW + timedelta(seconds=1)
        with uow_factory() as uow:
            assert uow.tokens.is_refresh_usable("j1", NOW)
            assert not uow.tokens.is_refresh_usable("j1", later)
            assert uow.tokens.use_refresh("j1", later) is None
            uow.commit()
        with uow_factory() as uow:
            assert uow.tokens.is_refresh_usable("j1", NOW)  # refused, not spent

    def test_revoking_a_family_revokes_its_tokens(self, uow_factory: UowFactory) -> None:
        user_id = self._token(uow_factory).user_id
        with uow_factory() as uow:
            assert not revoked(uow, user_id, "access-1", "f1")
            uow.tokens.revoke_family("f1", NOW)
            uow.commit()
        with uow_factory() as uow:
            assert revoked(uow, user_id, "access-1", "f1")
            assert not revoked(uow, user_id, "access-1", "other")
            assert uow.tokens.use_refresh("j1", NOW) is None

    def test_revoked_access_tokens_and_purge(self, uow_factory: UowFactory) -> None:
        user_id = self._token(uow_factory, expires=NOW - timedelta(seconds=1)).user_id
        with uow_factory() as uow:
            uow.tokens.revoke_access("a1", NOW - timedelta(seconds=1))
            uow.tokens.revoke_access("a1", NOW - timedelta(seconds=1))  # twice is harmless
            uow.tokens.revoke_access("a2", NOW + timedelta(minutes=5))
            uow.commit()
        with uow_factory() as uow:
            assert revoked(uow, user_id, "a1", "fx") and revoked(uow, user_id, "a2", "fx")
            assert uow.tokens.purge_expired(NOW) == 2
            uow.commit()
        with uow_factory() as uow:
            assert not revoked(uow, user_id, "a1", "fx")
            assert revoked(uow, user_id, "a2", "fx")


class TestIdempotencyKeys:
    def test_claim_keep_and_get(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory)
        assert user.id is not None
        shown = {"id": 1, "total": "2.50", "cancelled_at": None}
        with uow_factory() as uow:
            assert uow.idempotency.get(user.id, "k") is None
            assert uow.idempotency.claim(StoredPlacement(user.id, "k", "fp", NOW, None), NOW) is None
            uow.idempotency.keep(StoredPlacement(user.id, "k", "fp", NOW, shown))
            uow.commit()
        with uow_factory() as uow:
            assert uow.idempotency.get(user.id, "k") == StoredPlacement(user.id, "k", "fp", NOW, shown)

    def test_a_key_is_claimed_once_per_user_until_it_is_stale(self, uow_factory: UowFactory) -> None:
        alice = add_user(uow_factory)
        bob = add_user(uow_factory, "bob")
        assert alice.id is not None and bob.id is not None
        keep(uow_factory, StoredPlacement(alice.id, "k", "fp", NOW, {"id": 1}))
        keep(uow_factory, StoredPlacement(bob.id, "k", "fp", NOW, {"id": 2}))
        with uow_factory() as uow:
            held = uow.idempotency.claim(StoredPlacement(alice.id, "k", "other", NOW, None), NOW)
        assert held is not None and (held.fingerprint, held.order) == ("fp", {"id": 1})
        later = NOW + timedelta(days=1)
        with uow_factory() as uow:  # kept before `stale_before`: forgotten, the key is claimed again
            assert uow.idempotency.claim(StoredPlacement(alice.id, "k", "new", later, None), later) is None
            uow.idempotency.keep(StoredPlacement(alice.id, "k", "new", later, {"id": 3}))
            uow.commit()
        with uow_factory() as uow:
            kept = uow.idempotency.get(alice.id, "k")
        assert kept is not None and (kept.fingerprint, kept.created_at, kept.order) == ("new", later, {"id": 3})

    def test_a_claim_rolled_back_leaves_nothing(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory)
        assert user.id is not None
        with uow_factory() as uow:
            assert uow.idempotency.claim(StoredPlacement(user.id, "k", "fp", NOW, None), NOW) is None
        with uow_factory() as uow:
            assert uow.idempotency.get(user.id, "k") is None

    def test_delete_and_purge(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory)
        assert user.id is not None
        for key, moment in (("old", NOW - timedelta(days=2)), ("new", NOW), ("gone", NOW)):
            keep(uow_factory, StoredPlacement(user.id, key, "fp", moment, {"id": 1}), moment)
        with uow_factory() as uow:
            uow.idempotency.delete(user.id, "gone")
            assert uow.idempotency.purge_older_than(NOW - timedelta(days=1)) == 1
            uow.commit()
        with uow_factory() as uow:
            assert uow.idempotency.get(user.id, "old") is None
            assert uow.idempotency.get(user.id, "gone") is None
            assert uow.idempotency.get(user.id, "new") is not None


class TestOutbox:
    """Every committed change has its messages, written in its own transaction; a rolled-back one none."""

    def test_a_committed_order_has_its_message_ready_to_send(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory)
        tea = add_product(uow_factory, stock=3)
        assert user.id is not None and tea.id is not None
        order = place(uow_factory, user.id, (tea.id, 2))
        with uow_factory() as uow:
            pending = uow.outbox.pending(10)
        placed = [entry for entry in pending if entry.type == "order.placed"]
        assert len(placed) == 1
        body = json.loads(placed[0].body)
        assert body == {
            "id": placed[0].id,
            "type": "order.placed",
            "occurred_at": NOW.isoformat(),
            "aggregate_id": order.id,
            "data": representations.order(order),
        }
        assert uuid.UUID(placed[0].id).version == 4
        assert placed[0].occurred_at == NOW

    def test_a_rolled_back_change_leaves_no_message(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory)
        tea = add_product(uow_factory, stock=3)
        assert user.id is not None and tea.id is not None
        with uow_factory() as uow:
            before = uow.outbox.backlog().pending
        with uow_factory() as uow:
            products = uow.products.get_for_update([tea.id])
            order = Order.place(user_id=user.id, items=[OrderItem(tea.id, 1)], products=products, now=NOW)
            uow.products.save(products[tea.id])
            uow.orders.add(order)
            products[tea.id].delete(NOW)
            uow.products.save(products[tea.id])
        with uow_factory() as uow:
            assert uow.outbox.backlog().pending == before

    def test_messages_wait_in_order_until_sent_then_are_purged(self, uow_factory: UowFactory) -> None:
        user = add_user(uow_factory)
        tea = add_product(uow_factory, stock=10)
        assert user.id is not None and tea.id is not None
        for _ in range(3):
            place(uow_factory, user.id, (tea.id, 1))
        with uow_factory() as uow:
            everything = uow.outbox.pending(100)
            first_two = uow.outbox.pending(2)
            backlog = uow.outbox.backlog()
        assert [entry.position for entry in everything] == sorted(entry.position for entry in everything)
        assert first_two == everything[:2]
        assert len({entry.id for entry in everything}) == len(everything) == backlog.pending
        assert backlog.oldest == NOW

        with uow_factory() as uow:
            uow.outbox.mark_sent([entry.position for entry in first_two], NOW + timedelta(minutes=1))
            uow.commit()
        with uow_factory() as uow:
            assert uow.outbox.pending(100) == everything[2:]
            assert uow.outbox.backlog().pending == len(everything) - 2
            assert uow.outbox.purge_sent_before(NOW + timedelta(minutes=1)) == 0
            assert uow.outbox.purge_sent_before(NOW + timedelta(minutes=2)) == 2
            uow.commit()
        with uow_factory() as uow:
            assert uow.outbox.pending(100) == everything[2:]
            assert uow.outbox.backlog().pending == len(everything) - 2

    def test_added_messages_get_ids_and_bodies_and_wait_in_the_order_added(self, uow_factory: UowFactory) -> None:
        messages = [
            Message("product.created", "product", 7, NOW, {"id": 7, "name": "Tea"}),
            Message("product.deleted", "product", 7, NOW + timedelta(seconds=1), {"id": 7, "name": "Tea"}),
        ]
        with uow_factory() as uow:
            uow.outbox.add(messages)
            uow.commit()
        with uow_factory() as uow:
            created, deleted = uow.outbox.pending(10)
        assert (created.type, deleted.type) == ("product.created", "product.deleted")
        assert created.position < deleted.position
        assert created.id != deleted.id
        assert json.loads(deleted.body) == {
            "id": deleted.id,
            "type": "product.deleted",
            "occurred_at": (NOW + timedelta(seconds=1)).isoformat(),
            "aggregate_id": 7,
            "data": {"id": 7, "name": "Tea"},
        }

    def test_an_empty_outbox_has_no_backlog(self, uow_factory: UowFactory) -> None:
        with uow_factory() as uow:
            assert uow.outbox.backlog() == Backlog(0, None)
            assert uow.outbox.pending(10) == []
            uow.outbox.mark_sent([], NOW)


def test_handlers_see_the_change_committed(uow_factory: UowFactory) -> None:
    """After commit means after commit: a handler reading through another unit of work finds the order."""
    user = add_user(uow_factory)
    tea = add_product(uow_factory, stock=3)
    assert user.id is not None and tea.id is not None
    seen: list[bool] = []
    bus = MessageBus({OrderPlaced: [lambda event: seen.append(visible(uow_factory, event.order.id))]})

    with uow_factory(bus) as uow:
        products = uow.products.get_for_update([tea.id])
        order = Order.place(user_id=user.id, items=[OrderItem(tea.id, 1)], products=products, now=NOW)
        uow.products.save(products[tea.id])
        uow.orders.add(order)
        uow.commit()

    assert seen == [True]


def visible(uow_factory: UowFactory, order_id: int) -> bool:
    with uow_factory() as uow:
        return uow.orders.get(order_id) is not None


def test_a_refresh_token_is_usable_until_used_revoked_or_expired(uow_factory: UowFactory) -> None:
    user = add_user(uow_factory)
    assert user.id is not None
    with uow_factory() as uow:
        for jti, family in (("used", "f1"), ("revoked", "f2"), ("fresh", "f3")):
            uow.tokens.add_refresh(RefreshToken(jti, family, user.id, NOW + timedelta(hours=1)))
        uow.tokens.use_refresh("used", NOW)
        uow.tokens.revoke_family("f2", NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.tokens.is_refresh_usable("fresh", NOW)
        assert not uow.tokens.is_refresh_usable("fresh", NOW + timedelta(hours=2))
        assert not uow.tokens.is_refresh_usable("used", NOW)
        assert not uow.tokens.is_refresh_usable("revoked", NOW)
        assert not uow.tokens.is_refresh_usable("unknown", NOW)


def test_access_state_reads_the_user_and_revocations_at_once(uow_factory: UowFactory) -> None:
    user = add_user(uow_factory, role=Role.MANAGER)
    assert user.id is not None
    with uow_factory() as uow:
        uow.tokens.add_refresh(RefreshToken("r1", "fam", user.id, NOW + timedelta(days=1)))
        uow.commit()
    with uow_factory() as uow:
        assert uow.tokens.access_state(user.id, "a1", "fam") == AccessState(Role.MANAGER, True, 0, False)
        assert uow.tokens.access_state(user.id + 100, "a1", "fam") is None
        uow.tokens.revoke_access("a1", NOW + timedelta(minutes=5))
        uow.commit()
    with uow_factory() as uow:
        assert revoked(uow, user.id, "a1", "fam")
        assert not revoked(uow, user.id, "a2", "fam")
        uow.tokens.revoke_family("fam", NOW)
        uow.commit()
    with uow_factory() as uow:
        assert revoked(uow, user.id, "a2", "fam")
