"""Fixtures for the unit tests: the in-memory unit of work and fast fakes of every port."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.domain.money import Money
from shop.domain.products import Product
from shop.domain.users import Role, User
from tests.fakes import PASSWORD, CounterIds, FakeClock, FakeHasher, RecordingBus

from ..support import UseCases, assembled


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def use(store: MemoryStore, bus: RecordingBus, clock: FakeClock, hasher: FakeHasher, ids: CounterIds) -> UseCases:
    """Every use case, assembled over the in-memory store and the fakes."""
    return assembled(lambda: MemoryUnitOfWork(store, bus), clock=clock, bus=bus, hasher=hasher, ids=ids)


@pytest.fixture
def new_uow(store: MemoryStore) -> Callable[[], MemoryUnitOfWork]:
    return lambda: MemoryUnitOfWork(store)


@pytest.fixture
def uow(new_uow: Callable[[], MemoryUnitOfWork]) -> MemoryUnitOfWork:
    return new_uow()


@pytest.fixture
def hasher() -> FakeHasher:
    return FakeHasher()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ids() -> CounterIds:
    return CounterIds()


def actor_of(user: User) -> Actor:
    assert user.id is not None
    return Actor(user.id, user.role)


@pytest.fixture
def add_user(new_uow: Callable[[], MemoryUnitOfWork], hasher: FakeHasher) -> Callable[..., User]:
    """Store a user directly (no use case), with the fake hash of `password`."""

    def add(username: str, *, password: str = PASSWORD, role: Role = Role.CUSTOMER, active: bool = True) -> User:
        user = User(username=username, password_hash=hasher.encode(password), role=role, active=active)
        with new_uow() as uow:
            uow.users.add(user)
            uow.commit()
        return user

    return add


@pytest.fixture
def customer(add_user: Callable[..., User]) -> Actor:
    return actor_of(add_user("alice"))


@pytest.fixture
def other_customer(add_user: Callable[..., User]) -> Actor:
    return actor_of(add_user("bob"))


@pytest.fixture
def manager(add_user: Callable[..., User]) -> Actor:
    return actor_of(add_user("boss", role=Role.MANAGER))


@pytest.fixture
def add_product(new_uow: Callable[[], MemoryUnitOfWork]) -> Callable[..., Product]:
    """Store a product directly (no use case)."""

    def add(name: str, price: str = "10.00", stock: int = 10, currency: str = "TWD") -> Product:
        product = Product(name=name, price=Money(Decimal(price), currency), stock=stock)
        with new_uow() as uow:
            uow.products.add(product)
            uow.commit()
        return product

    return add


@pytest.fixture
def stock_of(store: MemoryStore) -> Callable[[int | None], int]:
    """The committed stock of a product, deleted ones included."""

    def stock(product_id: int | None) -> int:
        assert product_id is not None
        return store.state.products[product_id].stock

    return stock


def transaction_ended(store: MemoryStore) -> bool:
    """True when no unit of work holds the store: another thread can then take its lock."""
    taken: list[bool] = []

    def probe() -> None:
        taken.append(store.lock.acquire(blocking=False))
        if taken[0]:
            store.lock.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return taken[0]
