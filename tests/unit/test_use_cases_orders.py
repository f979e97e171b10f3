from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.errors import Forbidden, NotFound
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Page
from shop.application.products import ProductChanges
from shop.domain.errors import InsufficientStock, InvalidTransition, InvalidValue
from shop.domain.money import Money
from shop.domain.orders import Order, OrderItem, OrderLine, OrderStatus
from shop.domain.products import Product
from tests.fakes import START, FakeClock
from tests.support import UseCases

Stock = Callable[[int | None], int]


@pytest.fixture
def apple(add_product: Callable[..., Product]) -> Product:
    return add_product("Apple", price="10.50", stock=5)


@pytest.fixture
def pear(add_product: Callable[..., Product]) -> Product:
    return add_product("Pear", price="0.99", stock=10)


@pytest.fixture
def order_as(use: UseCases, store: MemoryStore) -> Callable[..., Order]:
    """Place an order; the order as stored."""

    def place(actor: Actor, *items: tuple[Product | int, int]) -> Order:
        order_items = [OrderItem(p if isinstance(p, int) else p.id or 0, qty) for p, qty in items]
        placed = use.place_order(actor=actor, items=order_items)
        return copy.deepcopy(store.state.orders[placed.order["id"]])

    return place


# place_order


def test_place_order_takes_stock_and_records_the_order(
    customer: Actor, apple: Product, pear: Product, order_as: Callable[..., Order], store: MemoryStore, stock_of: Stock
) -> None:
    order = order_as(customer, (apple, 2), (pear, 3))
    assert order.id == 1
    assert (stock_of(apple.id), stock_of(pear.id)) == (3, 7)
    saved = store.state.orders[1]
    assert saved.user_id == customer.user_id
    assert saved.status is OrderStatus.PLACED
    assert saved.created_at == START
    assert saved.lines == [
        OrderLine(apple.id or 0, "Apple", Money(Decimal("10.50"), "TWD"), 2),
        OrderLine(pear.id or 0, "Pear", Money(Decimal("0.99"), "TWD"), 3),
    ]
    assert saved.total == Money(Decimal("23.97"), "TWD")


def test_managers_cannot_place_orders(
    manager: Actor, apple: Product, order_as: Callable[..., Order], store: MemoryStore, stock_of: Stock
) -> None:
    with pytest.raises(Forbidden):
        order_as(manager, (apple, 1))
    assert stock_of(apple.id) == 5
    assert store.state.orders == {}


def test_empty_order_is_refused(customer: Actor, order_as: Callable[..., Order], store: MemoryStore) -> None:
    with pytest.raises(InvalidValue) as caught:
        order_as(customer)
    assert list(caught.value.errors) == ["items"]
    assert store.state.orders == {}


def test_insufficient_stock_changes_nothing(
    customer: Actor, apple: Product, pear: Product, order_as: Callable[..., Order], store: MemoryStore, stock_of: Stock
) -> None:
    next_ids = dict(store.state.next_id)
    with pytest.raises(InsufficientStock) as caught:
        order_as(customer, (pear, 10), (apple, 6))
    assert [(s.product_id, s.requested, s.available) for s in caught.value.shortages] == [(apple.id, 6, 5)]
    assert (stock_of(apple.id), stock_of(pear.id)) == (5, 10)
    assert store.state.orders == {}
    assert store.state.next_id == next_ids


@pytest.mark.parametrize("bad", [404, "deleted"])
def test_unknown_or_deleted_product_changes_nothing(
    use: UseCases,
    customer: Actor,
    manager: Actor,
    apple: Product,
    pear: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    store: MemoryStore,
    stock_of: Stock,
    bad: int | str,
) -> None:
    if bad == "deleted":
        use.delete_product(actor=manager, product_id=pear.id or 0)
        bad = pear.id or 0
    with pytest.raises(InvalidValue) as caught:
        order_as(customer, (apple, 1), (bad, 1))
    assert list(caught.value.errors) == ["items.1.product"]
    assert (stock_of(apple.id), stock_of(pear.id)) == (5, 10)
    assert store.state.orders == {}


def test_mixed_currencies_are_refused(
    customer: Actor,
    apple: Product,
    add_product: Callable[..., Product],
    order_as: Callable[..., Order],
    stock_of: Stock,
) -> None:
    dollar = add_product("Dollar thing", price="1.00", currency="USD")
    with pytest.raises(InvalidValue) as caught:
        order_as(customer, (apple, 1), (dollar, 1))
    assert list(caught.value.errors) == ["items"]
    assert (stock_of(apple.id), stock_of(dollar.id)) == (5, 10)


def test_past_orders_keep_their_lines(
    use: UseCases,
    customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
) -> None:
    order = order_as(customer, (apple, 2))
    use.update_product(actor=manager, product_id=apple.id or 0, changes=ProductChanges(name="Old apple", price="99"))
    use.delete_product(actor=manager, product_id=apple.id or 0)
    seen = use.get_order(actor=customer, order_id=order.id or 0)
    assert seen.lines == [OrderLine(apple.id or 0, "Apple", Money(Decimal("10.50"), "TWD"), 2)]
    assert seen.total == Money(Decimal("21.00"), "TWD")


# list_orders / get_order


def test_customers_see_only_their_orders(
    use: UseCases,
    customer: Actor,
    other_customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
) -> None:
    mine = [order_as(customer, (apple, 1)).id for _ in range(2)]
    theirs = order_as(other_customer, (apple, 1)).id
    orders, total = use.list_orders(actor=customer, query=OrderQuery(user_id=other_customer.user_id))
    assert ([o.id for o in orders], total) == (mine[::-1], 2)
    orders, total = use.list_orders(actor=other_customer, query=OrderQuery())
    assert ([o.id for o in orders], total) == ([theirs], 1)
    with pytest.raises(NotFound):
        use.get_order(actor=customer, order_id=theirs or 0)
    assert use.get_order(actor=other_customer, order_id=theirs or 0).id == theirs
    assert use.get_order(actor=manager, order_id=theirs or 0).id == theirs
    with pytest.raises(NotFound):
        use.get_order(actor=manager, order_id=999)


def test_manager_lists_every_order_with_filters_and_pages(
    use: UseCases,
    customer: Actor,
    other_customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
) -> None:
    first = order_as(customer, (apple, 1)).id
    second = order_as(other_customer, (apple, 1)).id
    third = order_as(customer, (apple, 1)).id
    use.cancel_order(actor=customer, order_id=first or 0)
    orders, total = use.list_orders(actor=manager, query=OrderQuery())
    assert ([o.id for o in orders], total) == ([third, second, first], 3)  # newest first
    orders, total = use.list_orders(actor=manager, query=OrderQuery(user_id=customer.user_id))
    assert [o.id for o in orders] == [third, first]
    orders, total = use.list_orders(actor=manager, query=OrderQuery(status=OrderStatus.PLACED))
    assert ([o.id for o in orders], total) == ([third, second], 2)
    orders, total = use.list_orders(actor=customer, query=OrderQuery(status=OrderStatus.CANCELLED))
    assert ([o.id for o in orders], total) == ([first], 1)
    orders, total = use.list_orders(actor=manager, query=OrderQuery(page=Page(number=2, size=2), sort=("id",)))
    assert ([o.id for o in orders], total) == ([third], 3)


def test_orders_sort_by_the_keys_asked_newest_first_by_default(
    use: UseCases,
    customer: Actor,
    apple: Product,
    pear: Product,
    order_as: Callable[..., Order],
    clock: FakeClock,
) -> None:
    cheap = order_as(customer, (pear, 1)).id
    clock.advance()
    dear = order_as(customer, (apple, 3)).id
    clock.advance(-timedelta(hours=1))  # a clock set back: ids and times disagree
    earliest = order_as(customer, (apple, 1)).id

    def listed(*sort: str) -> list[int | None]:
        query = OrderQuery(sort=sort) if sort else OrderQuery()
        return [o.id for o in use.list_orders(actor=customer, query=query).items]

    assert listed() == listed("-created_at") == [dear, cheap, earliest]
    assert listed("created_at") == [earliest, cheap, dear]
    assert listed("total") == [cheap, earliest, dear]  # 0.99, 10.50, 31.50
    assert listed("-total") == [dear, earliest, cheap]
    use.cancel_order(actor=customer, order_id=dear or 0)
    assert listed("-status", "total") == [cheap, earliest, dear]  # placed, then cancelled


def test_a_manager_lists_one_customers_orders_by_username_whatever_its_case(
    use: UseCases,
    customer: Actor,
    other_customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
) -> None:
    first = order_as(customer, (apple, 1)).id
    order_as(other_customer, (apple, 1))
    third = order_as(customer, (apple, 1)).id

    alices = use.list_orders(actor=manager, query=OrderQuery(), customer="ALICE")
    nobodys = use.list_orders(actor=manager, query=OrderQuery(), customer="nobody")

    assert ([o.id for o in alices.items], alices.total) == ([third, first], 2)
    assert (nobodys.items, nobodys.total) == ([], 0)


def test_a_customer_asking_for_someone_elses_orders_gets_their_own(
    use: UseCases, customer: Actor, other_customer: Actor, apple: Product, order_as: Callable[..., Order]
) -> None:
    mine = order_as(other_customer, (apple, 1)).id
    order_as(customer, (apple, 1))

    listed = use.list_orders(actor=other_customer, query=OrderQuery(user_id=customer.user_id))

    assert [o.id for o in listed.items] == [mine]


@pytest.mark.parametrize("name", ["alice", "bob"])
def test_a_customer_may_not_name_a_customer(
    use: UseCases, customer: Actor, other_customer: Actor, apple: Product, order_as: Callable[..., Order], name: str
) -> None:
    order_as(other_customer, (apple, 1))

    with pytest.raises(Forbidden):
        use.list_orders(actor=other_customer, query=OrderQuery(), customer=name)


def test_a_manager_lists_a_closed_accounts_orders_by_its_username(
    use: UseCases, customer: Actor, manager: Actor, apple: Product, order_as: Callable[..., Order]
) -> None:
    placed = order_as(customer, (apple, 1)).id
    use.delete_user(actor=customer, user_id=customer.user_id)

    listed = use.list_orders(actor=manager, query=OrderQuery(), customer="alice")

    assert ([o.id for o in listed.items], listed.total) == ([placed], 1)


# cancel_order


def test_owner_cancels_and_stock_comes_back(
    use: UseCases,
    customer: Actor,
    apple: Product,
    pear: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
    stock_of: Stock,
) -> None:
    order = order_as(customer, (apple, 2), (pear, 10))
    later = clock.advance(timedelta(minutes=5))
    cancelled = use.cancel_order(actor=customer, order_id=order.id or 0)
    assert cancelled.status is OrderStatus.CANCELLED
    saved = store.state.orders[order.id or 0]
    assert (saved.status, saved.cancelled_at, saved.updated_at) == (OrderStatus.CANCELLED, later, later)
    assert (stock_of(apple.id), stock_of(pear.id)) == (5, 10)


def test_manager_may_cancel_any_order(
    use: UseCases,
    customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    stock_of: Stock,
) -> None:
    order = order_as(customer, (apple, 3))
    use.cancel_order(actor=manager, order_id=order.id or 0)
    assert stock_of(apple.id) == 5


def test_another_customer_cannot_cancel(
    use: UseCases,
    customer: Actor,
    other_customer: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
    stock_of: Stock,
) -> None:
    order = order_as(customer, (apple, 3))
    with pytest.raises(NotFound):
        use.cancel_order(actor=other_customer, order_id=order.id or 0)
    assert store.state.orders[order.id or 0].status is OrderStatus.PLACED
    assert stock_of(apple.id) == 2


def test_cancel_twice_restocks_once(
    use: UseCases,
    customer: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    stock_of: Stock,
) -> None:
    order = order_as(customer, (apple, 3))
    use.cancel_order(actor=customer, order_id=order.id or 0)
    with pytest.raises(InvalidTransition):
        use.cancel_order(actor=customer, order_id=order.id or 0)
    assert stock_of(apple.id) == 5


def test_cancel_gives_stock_back_to_a_deleted_product(
    use: UseCases,
    customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
    stock_of: Stock,
) -> None:
    order = order_as(customer, (apple, 3))
    use.delete_product(actor=manager, product_id=apple.id or 0)
    use.cancel_order(actor=customer, order_id=order.id or 0)
    assert stock_of(apple.id) == 5
    assert store.state.products[apple.id or 0].deleted


def test_cancel_works_when_a_new_product_took_the_deleted_ones_name(
    use: UseCases,
    customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
    stock_of: Stock,
) -> None:
    order = order_as(customer, (apple, 3))
    use.delete_product(actor=manager, product_id=apple.id or 0)
    new_apple = use.create_product(actor=manager, name="Apple", price="1", stock=1)
    use.cancel_order(actor=customer, order_id=order.id or 0)
    assert store.state.orders[order.id or 0].status is OrderStatus.CANCELLED
    assert stock_of(apple.id) == 5
    assert stock_of(new_apple.id) == 1


def test_cancel_unknown_order(use: UseCases, customer: Actor, uow: MemoryUnitOfWork, clock: FakeClock) -> None:
    with pytest.raises(NotFound):
        use.cancel_order(actor=customer, order_id=1)


# fulfil_order


def test_only_managers_fulfil(
    use: UseCases,
    customer: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
) -> None:
    order = order_as(customer, (apple, 1))
    with pytest.raises(Forbidden):
        use.fulfil_order(actor=customer, order_id=order.id or 0)
    assert store.state.orders[order.id or 0].status is OrderStatus.PLACED


def test_fulfil_keeps_stock_taken_and_closes_the_order(
    use: UseCases,
    customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
    stock_of: Stock,
) -> None:
    order = order_as(customer, (apple, 2))
    later = clock.advance(timedelta(days=1))
    use.fulfil_order(actor=manager, order_id=order.id or 0)
    saved = store.state.orders[order.id or 0]
    assert (saved.status, saved.fulfilled_at, saved.cancelled_at) == (OrderStatus.FULFILLED, later, None)
    assert stock_of(apple.id) == 3
    with pytest.raises(InvalidTransition):
        use.fulfil_order(actor=manager, order_id=order.id or 0)
    with pytest.raises(InvalidTransition):
        use.cancel_order(actor=customer, order_id=order.id or 0)
    assert stock_of(apple.id) == 3
    assert store.state.orders[order.id or 0].status is OrderStatus.FULFILLED


def test_a_cancelled_order_cannot_be_fulfilled(
    use: UseCases,
    customer: Actor,
    manager: Actor,
    apple: Product,
    order_as: Callable[..., Order],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
) -> None:
    order = order_as(customer, (apple, 2))
    use.cancel_order(actor=customer, order_id=order.id or 0)
    with pytest.raises(InvalidTransition):
        use.fulfil_order(actor=manager, order_id=order.id or 0)
    assert store.state.orders[order.id or 0].status is OrderStatus.CANCELLED


def test_fulfil_unknown_order(use: UseCases, manager: Actor, uow: MemoryUnitOfWork, clock: FakeClock) -> None:
    with pytest.raises(NotFound):
        use.fulfil_order(actor=manager, order_id=7)


# the unit of work itself


def test_without_commit_nothing_is_kept(uow: MemoryUnitOfWork, apple: Product, store: MemoryStore) -> None:
    with uow:
        uow.products.add(Product(name="Ghost", price=Money(Decimal("1"), "TWD"), stock=1))
        product = uow.products.get_for_update([apple.id or 0])[apple.id or 0]
        product.change(stock=0, now=START)
        uow.products.save(product)
    assert [p.name for p in store.state.products.values()] == ["Apple"]
    assert store.state.products[apple.id or 0].stock == 5
    assert store.state.next_id["products"] == 2


def test_an_error_rolls_back_and_a_commit_keeps_only_what_came_before(
    uow: MemoryUnitOfWork, apple: Product, store: MemoryStore
) -> None:
    def work() -> None:
        with uow:
            product = uow.products.get_for_update([apple.id or 0])[apple.id or 0]
            product.change(stock=1, now=START)
            uow.products.save(product)
            uow.commit()
            product.change(stock=2, now=START)
            uow.products.save(product)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        work()
    assert store.state.products[apple.id or 0].stock == 1


def test_changes_to_unsaved_copies_are_not_kept(uow: MemoryUnitOfWork, apple: Product, store: MemoryStore) -> None:
    with uow:
        product = uow.products.get(apple.id or 0)
        assert product is not None
        product.change(stock=0, now=START)
        uow.commit()
    assert store.state.products[apple.id or 0].stock == 5
