"""The relay on fakes: order, confirmation before the mark, backoff, standing by, quiet logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.messages import OutboxEntry
from shop.application.ports.broker import PublishFailed
from shop.application.relay import Relay, RelaySettings, relay_batch
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from tests.fakes import FakeBroker, FakeClock, FakeLeadership
from tests.support import UseCases


class Waits:
    """The relay's wait: records each pause, and asks the relay to stop after `rounds` of them."""

    def __init__(self, rounds: int, between: Callable[[int], None] = lambda _round: None) -> None:
        self.pauses: list[float] = []
        self.rounds = rounds
        self.between = between

    def __call__(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        self.between(len(self.pauses))
        return len(self.pauses) >= self.rounds


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
def orders(use: UseCases, customer: Actor, add_product: Callable[..., Product]) -> Callable[[int], list[int]]:
    """Place n orders; their ids."""
    tea = add_product("Tea", stock=1000)

    def place(n: int) -> list[int]:
        return [use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)]).order["id"] for _ in range(n)]

    return place


def pending(store: MemoryStore) -> list[OutboxEntry]:
    with MemoryUnitOfWork(store) as uow:
        return uow.outbox.pending(10_000)


def relay(store: MemoryStore, broker: FakeBroker, waits: Waits, *, leadership: FakeLeadership | None = None) -> Relay:
    settings = RelaySettings(batch_size=3, backoff_initial_s=0.1, backoff_max_s=0.4)
    return Relay(
        uow=lambda: MemoryUnitOfWork(store),
        publisher=broker,
        leadership=leadership if leadership is not None else FakeLeadership(),
        clock=FakeClock(),
        wait=waits,
        settings=settings,
    )


def test_a_batch_goes_out_in_commit_order_and_is_marked_sent(
    store: MemoryStore, broker: FakeBroker, orders: Callable[[int], list[int]], clock: FakeClock
) -> None:
    orders(3)
    written = pending(store)

    sent = relay_batch(uow=MemoryUnitOfWork(store), publisher=broker, clock=clock, limit=10)

    assert sent == broker.received == written
    assert pending(store) == []


def test_what_the_broker_confirmed_before_a_failure_is_marked_the_rest_waits(
    store: MemoryStore, broker: FakeBroker, orders: Callable[[int], list[int]], clock: FakeClock
) -> None:
    orders(3)
    written = pending(store)
    broker.fail_at = 2
    published: list[OutboxEntry] = []

    with pytest.raises(PublishFailed):
        relay_batch(uow=MemoryUnitOfWork(store), publisher=broker, clock=clock, limit=10, on_published=published.extend)

    assert broker.received == published == written[:2]
    assert pending(store) == written[2:]


def test_the_loop_drains_full_batches_at_once_then_looks_again_shortly(
    store: MemoryStore, broker: FakeBroker, orders: Callable[[int], list[int]]
) -> None:
    orders(7)
    waits = Waits(rounds=4)

    relay(store, broker, waits).run()

    assert len(broker.received) == 7
    assert waits.pauses == [0.0, 0.0, 0.2, 0.2]  # 3, 3, then 1 of 3: nothing more


def test_a_broker_outage_backs_off_then_everything_goes_out(
    store: MemoryStore, broker: FakeBroker, orders: Callable[[int], list[int]]
) -> None:
    orders(2)
    broker.down = True
    waits = Waits(rounds=6, between=lambda n: setattr(broker, "down", n < 4))

    relay(store, broker, waits).run()

    assert waits.pauses[:4] == [0.1, 0.2, 0.4, 0.4]  # doubling, up to the maximum
    assert len(broker.received) == 2
    assert pending(store) == []
    assert broker.closed >= 4  # a fresh connection after every failure, and at the end


def test_an_outage_is_logged_once_with_its_cause_then_briefly(
    store: MemoryStore, broker: FakeBroker, orders: Callable[[int], list[int]], caplog: pytest.LogCaptureFixture
) -> None:
    orders(1)
    broker.down = True
    waits = Waits(rounds=5, between=lambda n: setattr(broker, "down", n < 4))

    with caplog.at_level(logging.INFO, logger="shop.application.relay"):
        relay(store, broker, waits).run()

    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert lines == [
        ("ERROR", "relay: publishing failed, retrying with backoff: PublishFailed: broker unreachable", True),
        (
            "WARNING",
            "relay: publishing failed, retrying with backoff: working again (3 failures after the first went unlogged)",
            False,
        ),
    ]


def test_a_relay_standing_by_publishes_nothing(
    store: MemoryStore, broker: FakeBroker, orders: Callable[[int], list[int]]
) -> None:
    orders(2)
    leadership = FakeLeadership(leader=False)
    waits = Waits(rounds=2)
    standing_by = relay(store, broker, waits, leadership=leadership)

    standing_by.run()

    assert broker.received == []
    assert waits.pauses == [1.0, 1.0]
    assert not standing_by.status.leader
    assert leadership.released


def test_the_loop_reports_its_state_for_the_probes(
    store: MemoryStore, broker: FakeBroker, orders: Callable[[int], list[int]]
) -> None:
    orders(1)
    broker.down = True
    failing = relay(store, broker, Waits(rounds=1))
    failing.run()
    assert failing.status.problem == "PublishFailed: broker unreachable"
    assert failing.status.last_success is None

    broker.down = False
    working = relay(store, broker, Waits(rounds=1))
    working.run()
    assert working.status.problem is None
    assert working.status.leader
    assert working.status.last_success is not None
