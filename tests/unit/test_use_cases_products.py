from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.errors import AlreadyExists, Forbidden, NotFound, PreconditionFailed
from shop.application.ports.paging import Page
from shop.application.ports.products import ProductQuery
from shop.application.products import (
    ProductChanges,
)
from shop.domain.errors import InvalidValue
from shop.domain.money import Money
from shop.domain.products import Product
from tests.support import UseCases

# create_product


def test_manager_creates_a_product(use: UseCases, uow: MemoryUnitOfWork, manager: Actor, store: MemoryStore) -> None:
    product = use.create_product(actor=manager, name="  Lamp ", price="12.5", stock=3)
    assert product.id == 1
    saved = store.state.products[1]
    assert (saved.name, saved.price, saved.stock, saved.deleted) == ("Lamp", Money(Decimal("12.50"), "TWD"), 3, False)
    assert use.get_product(product_id=1).name == "Lamp"


def test_create_in_another_currency(use: UseCases, uow: MemoryUnitOfWork, manager: Actor) -> None:
    product = use.create_product(actor=manager, name="Lamp", price=Decimal("3"), stock=0, currency="USD")
    assert product.price == Money(Decimal("3.00"), "USD")


def test_customer_cannot_create(use: UseCases, uow: MemoryUnitOfWork, customer: Actor, store: MemoryStore) -> None:
    with pytest.raises(Forbidden):
        use.create_product(actor=customer, name="Lamp", price="1", stock=1)
    assert store.state.products == {}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"price": "1.001"}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": 1.5}, "price"),
        ({"currency": "usd"}, "currency"),
        ({"stock": -1}, "stock"),
        ({"name": "   "}, "name"),
    ],
)
def test_create_validates(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, store: MemoryStore, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"name": "Lamp", "price": "1.00", "stock": 1, **kwargs}
    with pytest.raises(InvalidValue) as caught:
        use.create_product(actor=manager, **arguments)
    assert list(caught.value.errors) == [field]
    assert store.state.products == {}


def test_duplicate_name_is_refused(use: UseCases, uow: MemoryUnitOfWork, manager: Actor, store: MemoryStore) -> None:
    use.create_product(actor=manager, name="Lamp", price="1", stock=1)
    with pytest.raises(AlreadyExists) as caught:
        use.create_product(actor=manager, name=" Lamp", price="2", stock=2)
    assert caught.value.field == "name"
    assert len(store.state.products) == 1


def test_a_taken_name_is_told_with_every_other_problem_of_the_request(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, store: MemoryStore
) -> None:
    use.create_product(actor=manager, name="Lamp", price="1", stock=1)

    with pytest.raises(InvalidValue) as caught:
        use.create_product(actor=manager, name=" Lamp ", price="1.001", stock="many")

    assert caught.value.errors == {
        "name": ["A product named 'Lamp' already exists."],
        "price": ["TWD amounts have at most 2 decimals."],
        "stock": ["Not a valid integer."],
    }
    assert len(store.state.products) == 1


def test_a_deleted_product_frees_its_name(use: UseCases, uow: MemoryUnitOfWork, manager: Actor) -> None:
    old = use.create_product(actor=manager, name="Lamp", price="1", stock=1)
    use.delete_product(actor=manager, product_id=old.id or 0)
    new = use.create_product(actor=manager, name="Lamp", price="2", stock=2)
    assert new.id != old.id
    assert use.get_product(product_id=new.id or 0).price.amount == Decimal("2.00")


# get / update / delete


def test_get_unknown_product(use: UseCases, uow: MemoryUnitOfWork) -> None:
    with pytest.raises(NotFound, match="Product 5"):
        use.get_product(product_id=5)


def test_customer_cannot_update_or_delete(
    use: UseCases, uow: MemoryUnitOfWork, customer: Actor, add_product: Callable[..., Product], store: MemoryStore
) -> None:
    lamp = add_product("Lamp", stock=4)
    with pytest.raises(Forbidden):
        use.update_product(actor=customer, product_id=lamp.id or 0, changes=ProductChanges(stock=0))
    with pytest.raises(Forbidden):
        use.delete_product(actor=customer, product_id=lamp.id or 0)
    saved = store.state.products[lamp.id or 0]
    assert (saved.stock, saved.deleted) == (4, False)


def test_empty_changes_are_refused(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product]
) -> None:
    lamp = add_product("Lamp")
    with pytest.raises(InvalidValue) as caught:
        use.update_product(actor=manager, product_id=lamp.id or 0, changes=ProductChanges())
    assert list(caught.value.errors) == ["body"]


def test_update_every_field(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product], store: MemoryStore
) -> None:
    lamp = add_product("Lamp", price="1.00", stock=1)
    changes = ProductChanges(name=" Big lamp ", price="7.5", currency="USD", stock=9)
    updated = use.update_product(actor=manager, product_id=lamp.id or 0, changes=changes)
    saved = store.state.products[lamp.id or 0]
    assert (saved.name, saved.price, saved.stock) == ("Big lamp", Money(Decimal("7.50"), "USD"), 9)
    assert updated.price == saved.price


def test_an_update_whose_precondition_fails_changes_nothing(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product], store: MemoryStore
) -> None:
    lamp = add_product("Lamp", stock=1)
    seen: list[tuple[str, int]] = []

    def read_something_else(current: Product) -> bool:
        seen.append((current.name, current.stock))
        return False

    with pytest.raises(PreconditionFailed):
        use.update_product(
            actor=manager,
            product_id=lamp.id or 0,
            changes=ProductChanges(stock=9),
            precondition=read_something_else,
        )
    assert seen == [("Lamp", 1)]  # judged on the product as stored, before the changes
    assert store.state.products[lamp.id or 0].stock == 1


def test_an_update_whose_precondition_holds_goes_through(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product]
) -> None:
    lamp = add_product("Lamp", stock=1)

    updated = use.update_product(
        actor=manager, product_id=lamp.id or 0, changes=ProductChanges(stock=9), precondition=lambda _: True
    )

    assert updated.stock == 9


def test_price_alone_keeps_the_currency_and_currency_alone_keeps_the_amount(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product]
) -> None:
    lamp = add_product("Lamp", price="1.00", currency="EUR")
    pid = lamp.id or 0
    assert use.update_product(actor=manager, product_id=pid, changes=ProductChanges(price="2")).price == Money(
        Decimal("2.00"), "EUR"
    )
    assert use.update_product(actor=manager, product_id=pid, changes=ProductChanges(currency="JPY")).price == (
        Money(Decimal("2.00"), "JPY")
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (ProductChanges(name="New name", stock=-1), "stock"),
        (ProductChanges(name="New name", price="abc"), "price"),
        (ProductChanges(name="New name", currency="EURO"), "currency"),
        (ProductChanges(name=" ", stock=3), "name"),
    ],
)
def test_invalid_update_changes_nothing(
    use: UseCases,
    uow: MemoryUnitOfWork,
    manager: Actor,
    add_product: Callable[..., Product],
    store: MemoryStore,
    changes: ProductChanges,
    field: str,
) -> None:
    lamp = add_product("Lamp", price="1.00", stock=1)
    with pytest.raises(InvalidValue) as caught:
        use.update_product(actor=manager, product_id=lamp.id or 0, changes=changes)
    assert list(caught.value.errors) == [field]
    saved = store.state.products[lamp.id or 0]
    assert (saved.name, saved.price, saved.stock) == ("Lamp", Money(Decimal("1.00"), "TWD"), 1)


def test_rename_to_a_taken_name_changes_nothing(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product], store: MemoryStore
) -> None:
    add_product("Lamp")
    chair = add_product("Chair", stock=2)
    with pytest.raises(AlreadyExists):
        use.update_product(actor=manager, product_id=chair.id or 0, changes=ProductChanges(name="Lamp", stock=0))
    saved = store.state.products[chair.id or 0]
    assert (saved.name, saved.stock) == ("Chair", 2)


def test_a_rename_to_a_taken_name_is_told_with_the_other_problems(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product], store: MemoryStore
) -> None:
    add_product("Lamp")
    chair = add_product("Chair", stock=2)

    with pytest.raises(InvalidValue) as caught:
        use.update_product(
            actor=manager, product_id=chair.id or 0, changes=ProductChanges(name="Lamp", price="-1", stock="x")
        )

    assert set(caught.value.errors) == {"name", "price", "stock"}
    assert caught.value.errors["name"] == ["A product named 'Lamp' already exists."]
    assert (store.state.products[chair.id or 0].name, store.state.products[chair.id or 0].stock) == ("Chair", 2)


def test_a_product_keeps_its_own_name_through_an_edit(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product]
) -> None:
    chair = add_product("Chair", stock=2)

    saved = use.update_product(actor=manager, product_id=chair.id or 0, changes=ProductChanges(name="Chair", stock=3))

    assert (saved.name, saved.stock) == ("Chair", 3)


def test_update_or_delete_unknown_or_deleted_product(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_product: Callable[..., Product], store: MemoryStore
) -> None:
    lamp = add_product("Lamp", stock=5)
    use.delete_product(actor=manager, product_id=lamp.id or 0)
    for product_id in (lamp.id or 0, 404):
        with pytest.raises(NotFound):
            use.update_product(actor=manager, product_id=product_id, changes=ProductChanges(stock=1))
        with pytest.raises(NotFound):
            use.delete_product(actor=manager, product_id=product_id)
        with pytest.raises(NotFound):
            use.get_product(product_id=product_id)
    assert store.state.products[lamp.id or 0].stock == 5
    assert store.state.products[lamp.id or 0].deleted


# list_products


@pytest.fixture
def shelf(use: UseCases, add_product: Callable[..., Product], uow: MemoryUnitOfWork, manager: Actor) -> dict[str, int]:
    """Apple 10.00 x5 (1), banana 20.00 x0 (2), Cherry 10.00 x3 (3), apple pie 30.00 x1 (4), Apricot deleted (5)."""
    ids = {}
    for name, price, stock in [
        ("Apple", "10.00", 5),
        ("banana", "20.00", 0),
        ("Cherry", "10.00", 3),
        ("apple pie", "30.00", 1),
        ("Apricot", "10.00", 7),
    ]:
        ids[name] = add_product(name, price=price, stock=stock).id or 0
    use.delete_product(actor=manager, product_id=ids["Apricot"])
    return ids


def names(use: UseCases, **query: object) -> list[str]:
    products, _ = use.list_products(query=ProductQuery(**query))  # type: ignore[arg-type]
    return [p.name for p in products]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["Apple", "banana", "Cherry", "apple pie"]),
        ({"price": Decimal("10")}, ["Apple", "Cherry"]),
        ({"stock": 0}, ["banana"]),
        ({"min_price": Decimal("20.00")}, ["banana", "apple pie"]),
        ({"max_price": Decimal("20.00")}, ["Apple", "banana", "Cherry"]),
        ({"min_price": Decimal("10.01"), "max_price": Decimal("29.99")}, ["banana"]),
        ({"in_stock": True}, ["Apple", "Cherry", "apple pie"]),
        ({"in_stock": False}, ["banana"]),
        ({"q": "APPLE"}, ["Apple", "apple pie"]),
        ({"q": "pie"}, ["apple pie"]),
        ({"q": "apr"}, []),
        ({"q": "a", "in_stock": True, "max_price": Decimal("10")}, ["Apple"]),
    ],
)
def test_filters(use: UseCases, shelf: dict[str, int], query: dict[str, object], expected: list[str]) -> None:
    assert names(use, **query) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (("price",), ["Apple", "Cherry", "banana", "apple pie"]),
        (("-price",), ["apple pie", "banana", "Apple", "Cherry"]),
        (("name",), ["Apple", "apple pie", "banana", "Cherry"]),
        (("-name",), ["Cherry", "banana", "apple pie", "Apple"]),
        (("-stock",), ["Apple", "Cherry", "apple pie", "banana"]),
        (("price", "-stock"), ["Apple", "Cherry", "banana", "apple pie"]),
        (("price", "stock"), ["Cherry", "Apple", "banana", "apple pie"]),
        (("-id",), ["apple pie", "Cherry", "banana", "Apple"]),
    ],
)
def test_sort_with_id_tie_break(
    use: UseCases, shelf: dict[str, int], sort: tuple[str, ...], expected: list[str]
) -> None:
    assert names(use, sort=sort) == expected


def test_equal_prices_tie_break_on_ascending_id_even_when_descending(
    use: UseCases, add_product: Callable[..., Product]
) -> None:
    for name in ("c", "a", "b"):
        add_product(name, price="5.00")
    assert names(use, sort=("-price",)) == ["c", "a", "b"]
    assert names(use, sort=("price",)) == ["c", "a", "b"]


def test_pagination_reports_the_total(use: UseCases, shelf: dict[str, int]) -> None:
    products, total = use.list_products(query=ProductQuery(page=Page(number=2, size=3)))
    assert total == 4
    assert [p.name for p in products] == ["apple pie"]
    products, total = use.list_products(query=ProductQuery(page=Page(number=1, size=2), in_stock=True))
    assert total == 3
    assert [p.name for p in products] == ["Apple", "Cherry"]
    products, total = use.list_products(query=ProductQuery(page=Page(number=5, size=2)))
    assert (products, total) == ([], 4)


def test_listed_products_are_copies(use: UseCases, shelf: dict[str, int], store: MemoryStore) -> None:
    products, _ = use.list_products(query=ProductQuery())
    products[0].stock = 999
    assert store.state.products[products[0].id or 0].stock == 5
