"""Concurrent orders through the real unit of work, each thread on its own connection."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shop.application.actors import Actor
from shop.application.errors import PreconditionFailed
from shop.application.orders import Idempotency
from shop.application.ports.idempotency import StoredPlacement
from shop.application.products import ProductChanges
from shop.domain.errors import InsufficientStock
from shop.domain.money import Money
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from shop.domain.users import Role, User
from tests.fakes import FakeClock, RecordingBus

from ..support import UseCases, assembled
from .conftest import SqlUowFactory

RecordProperty = Callable[[str, object], None]


@pytest.fixture
def use(sql_uow_factory: SqlUowFactory) -> UseCases:
    """The use cases on the real unit of work, each run on its own connection."""
    return assembled(sql_uow_factory, clock=FakeClock(datetime(2026, 1, 1, tzinfo=UTC)), bus=RecordingBus())


def setup(uow_factory: SqlUowFactory, stocks: list[int]) -> tuple[Actor, list[int]]:
    with uow_factory() as uow:
        user = User(username="buyer", password_hash="h")
        uow.users.add(user)
        products = [Product(name=f"P{i}", price=Money(Decimal("1.00"), "TWD"), stock=s) for i, s in enumerate(stocks)]
        for product in products:
            uow.products.add(product)
        uow.commit()
    return Actor(stored(user.id), Role.CUSTOMER), [stored(p.id) for p in products]


def stored(aggregate_id: int | None) -> int:
    """The id a committed unit of work gave an aggregate."""
    assert aggregate_id is not None
    return aggregate_id


def run_together(count: int, action: Callable[[int], str]) -> Counter[str]:
    """Start `count` actions at the same instant; count their outcomes."""
    barrier = threading.Barrier(count)

    def start(i: int) -> str:
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return Counter(pool.map(start, range(count)))


def one_each(use: UseCases, actor: Actor, product_id: int) -> Callable[[int], str]:
    """An action ordering one of the product: "placed", or "short" when the stock has run out."""

    def order(_: int) -> str:
        try:
            use.place_order(actor=actor, items=[OrderItem(product_id, 1)])
        except InsufficientStock:
            return "short"
        return "placed"

    return order


def stock_of(uow_factory: SqlUowFactory, product_id: int) -> int:
    with uow_factory() as uow:
        return uow.products.get_for_update([product_id], include_deleted=True)[product_id].stock


def test_forty_orders_against_stock_ten_sell_exactly_ten(use: UseCases, sql_uow_factory: SqlUowFactory) -> None:
    actor, (product,) = setup(sql_uow_factory, [10])

    order = one_each(use, actor, product)

    outcomes = run_together(40, order)

    assert outcomes == Counter(placed=10, short=30)
    assert stock_of(sql_uow_factory, product) == 0


def test_overlapping_multi_item_orders_do_not_deadlock(use: UseCases, sql_uow_factory: SqlUowFactory) -> None:
    actor, (a, b) = setup(sql_uow_factory, [1000, 1000])

    def order(i: int) -> str:
        items = [OrderItem(a, 1), OrderItem(b, 2)] if i % 2 else [OrderItem(b, 2), OrderItem(a, 1)]
        use.place_order(actor=actor, items=items)
        return "placed"

    outcomes = run_together(30, order)

    assert outcomes == Counter(placed=30)
    assert (stock_of(sql_uow_factory, a), stock_of(sql_uow_factory, b)) == (970, 940)


def test_cancel_and_order_at_once_keep_stock_exact(use: UseCases, sql_uow_factory: SqlUowFactory) -> None:
    actor, (product,) = setup(sql_uow_factory, [20])
    placed = [use.place_order(actor=actor, items=[OrderItem(product, 1)]).order["id"] for _ in range(10)]

    def act(i: int) -> str:
        if i < 10:
            use.cancel_order(actor=actor, order_id=placed[i])
            return "cancelled"
        use.place_order(actor=actor, items=[OrderItem(product, 1)])
        return "placed"

    outcomes = run_together(20, act)

    assert outcomes == Counter(cancelled=10, placed=10)
    assert stock_of(sql_uow_factory, product) == 20 - 10 - 10 + 10


def test_two_hundred_orders_on_stock_fifty_sell_exactly_fifty(
    use: UseCases, sql_uow_factory: SqlUowFactory, record_property: RecordProperty
) -> None:
    actor, (product,) = setup(sql_uow_factory, [50])

    order = one_each(use, actor, product)

    started = time.perf_counter()
    outcomes = run_together(200, order)
    elapsed = time.perf_counter() - started

    record_property("orders_per_second", round(200 / elapsed))
    print(f"\n200 concurrent orders: {dict(outcomes)} in {elapsed:.3f}s = {200 / elapsed:.0f} orders/s")
    assert outcomes == Counter(placed=50, short=150)
    assert stock_of(sql_uow_factory, product) == 0
    with sql_uow_factory() as uow:
        told = Counter(entry.type for entry in uow.outbox.pending(1000))
    assert told == Counter({"order.placed": 50}), "every committed order has its message, no refused one has"


def test_same_idempotency_key_at_the_same_moment_places_one_order(
    use: UseCases, sql_uow_factory: SqlUowFactory
) -> None:
    actor, (product,) = setup(sql_uow_factory, [100])

    def order(_: int) -> str:
        placed = use.place_order(
            actor=actor, items=[OrderItem(product, 1)], idempotency=Idempotency("retry-1", "same-body")
        )
        return f"{placed.order['id']} {'replayed' if placed.replayed else 'first'}"

    outcomes = run_together(10, order)

    # The losers' attempts may have used up ids of the sequence: whichever id it is, it is one order.
    [order_id] = {outcome.split()[0] for outcome in outcomes}
    assert outcomes == Counter({f"{order_id} first": 1, f"{order_id} replayed": 9})
    assert stock_of(sql_uow_factory, product) == 99


def test_managers_editing_the_same_read_at_once_one_wins_the_other_is_told(
    use: UseCases, sql_uow_factory: SqlUowFactory
) -> None:
    """If-Match's precondition is judged under the row lock: no lost update between two edits."""
    _customer, (product,) = setup(sql_uow_factory, [5])
    manager = Actor(999, Role.MANAGER)

    def edit(i: int) -> str:
        try:
            use.update_product(
                actor=manager,
                product_id=product,
                changes=ProductChanges(stock=100 + i),
                precondition=lambda current: current.stock == 5,  # the state both of them read
            )
        except PreconditionFailed:
            return "told"
        return "applied"

    outcomes = run_together(8, edit)

    assert outcomes == Counter(applied=1, told=7)
    assert 100 <= stock_of(sql_uow_factory, product) < 108


@pytest.mark.parametrize("first_ends", ["commit", "rollback"])
def test_a_claim_waits_for_the_first_holder_of_its_key(sql_uow_factory: SqlUowFactory, first_ends: str) -> None:
    """The second claim of a key blocks until the first transaction ends: committed, its answer comes
    back; rolled back (an order refused, a crash), the key is the second's."""
    actor, _ = setup(sql_uow_factory, [1])
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    claim = StoredPlacement(actor.user_id, "k", "fp", moment, None)
    answers: list[StoredPlacement | None] = []
    claimed = threading.Event()

    def second() -> None:
        claimed.wait()
        with sql_uow_factory() as uow:
            answers.append(uow.idempotency.claim(replace(claim, fingerprint="second"), moment))
            uow.commit()

    waiter = threading.Thread(target=second)
    waiter.start()
    with sql_uow_factory() as uow:
        assert uow.idempotency.claim(claim, moment) is None
        claimed.set()
        time.sleep(0.3)
        assert not answers, "the second claim must wait for the first transaction"
        uow.idempotency.keep(replace(claim, order={"id": 7}))
        if first_ends == "commit":
            uow.commit()
    waiter.join(timeout=10)

    if first_ends == "commit":
        assert [(a.fingerprint, a.order) if a else None for a in answers] == [("fp", {"id": 7})]
    else:
        assert answers == [None]
        with sql_uow_factory() as uow:
            held = uow.idempotency.get(actor.user_id, "k")
        assert held is not None and held.fingerprint == "second"
