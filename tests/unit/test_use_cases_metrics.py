"""The business events the use cases report to the Metrics port, and when they report them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shop.adapters.memory import MemoryMetrics, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.auth import login
from shop.application.errors import AuthenticationFailed
from shop.application.orders import cancel_order, fulfil_order, place_order, place_order_once
from shop.domain.errors import InsufficientStock, InvalidTransition
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from shop.domain.users import User

from .conftest import PASSWORD, CounterIds, FakeClock, FakeHasher


@pytest.fixture
def metrics() -> MemoryMetrics:
    return MemoryMetrics()


@pytest.fixture
def tea(add_product: Callable[..., Product]) -> Product:
    return add_product("Tea", stock=3)


def items(product: Product, quantity: int) -> list[OrderItem]:
    assert product.id is not None
    return [OrderItem(product.id, quantity)]


def test_a_placed_order_is_counted(uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, tea: Product, metrics):
    place_order(uow=uow, clock=clock, actor=customer, items=items(tea, 2), metrics=metrics)

    assert metrics.counts == {"order_placed": 1}


def test_a_stock_out_is_counted_and_no_order(
    uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, tea: Product, metrics
):
    with pytest.raises(InsufficientStock):
        place_order(uow=uow, clock=clock, actor=customer, items=items(tea, 4), metrics=metrics)

    assert metrics.counts == {"stock_rejected": 1}


def test_an_idempotent_replay_is_not_a_second_order(
    uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, tea: Product, metrics
):
    def place(quantity: int) -> None:
        place_order_once(
            uow=uow,
            clock=clock,
            actor=customer,
            items=items(tea, quantity),
            key="k",
            fingerprint=str(quantity),
            key_ttl=timedelta(hours=24),
            render=lambda order: (201, str(order.id)),
            metrics=metrics,
        )

    place(1)
    place(1)
    with pytest.raises(InsufficientStock):
        place_order_once(
            uow=uow,
            clock=clock,
            actor=customer,
            items=items(tea, 9),
            key="other",
            fingerprint="9",
            key_ttl=timedelta(hours=24),
            render=lambda order: (201, str(order.id)),
            metrics=metrics,
        )

    assert metrics.counts == {"order_placed": 1, "stock_rejected": 1}


def test_cancel_and_fulfil_are_counted_once_they_happen(
    uow: MemoryUnitOfWork, clock: FakeClock, customer: Actor, manager: Actor, tea: Product, metrics
):
    first = place_order(uow=uow, clock=clock, actor=customer, items=items(tea, 1))
    second = place_order(uow=uow, clock=clock, actor=customer, items=items(tea, 1))
    assert first.id is not None
    assert second.id is not None

    cancel_order(uow=uow, clock=clock, actor=customer, order_id=first.id, metrics=metrics)
    fulfil_order(uow=uow, clock=clock, actor=manager, order_id=second.id, metrics=metrics)
    with pytest.raises(InvalidTransition):
        cancel_order(uow=uow, clock=clock, actor=customer, order_id=first.id, metrics=metrics)

    assert metrics.counts == {"order_cancelled": 1, "order_fulfilled": 1}


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong password!"), ("nobody", PASSWORD)])
def test_a_failed_login_is_counted(
    username: str,
    password: str,
    add_user: Callable[..., User],
    uow: MemoryUnitOfWork,
    hasher: FakeHasher,
    clock: FakeClock,
    ids: CounterIds,
    metrics,
):
    add_user("alice")

    def attempt(name: str, secret: str) -> None:
        login(
            uow=uow,
            hasher=hasher,
            clock=clock,
            ids=ids,
            refresh_ttl=timedelta(days=1),
            username=name,
            password=secret,
            metrics=metrics,
        )

    attempt("alice", PASSWORD)
    assert metrics.counts == {}
    with pytest.raises(AuthenticationFailed):
        attempt(username, password)
    assert metrics.counts == {"login_failed": 1}
