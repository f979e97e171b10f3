"""Reads from a real streaming replica that applies the WAL 500 ms late on purpose: a user who has
just written reads it back at once, nobody is served from it further behind than REPLICA_MAX_LAG_MS,
and a replica that stops takes no read down with it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shop.adapters.memory.positions import MemoryPositions
from shop.adapters.security import SystemClock
from shop.adapters.sql.engine import make_engine, make_replica_engine
from shop.adapters.sql.migrations import upgrade
from shop.adapters.sql.reads import SqlReads
from shop.adapters.sql.replicas import PRIMARY, ReadRouter
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application import products
from shop.application.actors import Actor
from shop.application.ports.reads import Consistency
from shop.application.ports.replicas import Guarantee
from shop.application.reads import reading_as
from shop.domain.users import Role
from tests.conftest import StreamingPair
from tests.servers import PostgresServer

# A primary and a replica of their own, started for each test (a few seconds each).
pytestmark = pytest.mark.system

MANAGER = Actor(user_id=1, role=Role.MANAGER)
APPLY_DELAY_MS = 500


class Served:
    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()

    def read_served(self, source: str) -> None:
        self.reads[source] += 1

    def replica_lag(self, replica: str, seconds: float | None) -> None:
        pass


@dataclass
class Replicated:
    primary: PostgresServer
    replica: PostgresServer
    served: Served

    def router(self, *, max_lag_ms: int = 1000) -> ReadRouter:
        return ReadRouter(
            make_engine(self.primary.url(), read_only=True),
            {"replica": make_replica_engine(self.replica.url())},
            MemoryPositions(),
            max_lag_ms=max_lag_ms,
            metrics=self.served,
            poll_s=0.05,
        )


@pytest.fixture
def replicated(streaming_pair: StreamingPair) -> Iterator[Replicated]:
    upgrade(streaming_pair.primary.url())
    replica = streaming_pair.replica(apply_delay_ms=APPLY_DELAY_MS)
    yield Replicated(streaming_pair.primary, replica, Served())
    reading_as(None)


def writer(replicated: Replicated, router: ReadRouter) -> SqlUnitOfWork:
    return SqlUnitOfWork(make_engine(replicated.primary.url()), router=router)


def add_product(uow: SqlUnitOfWork, name: str) -> int:
    product = products.create_product(uow=uow, clock=SystemClock(), actor=MANAGER, name=name, price="10", stock=5)
    assert product.id is not None
    return product.id


def test_a_user_who_has_just_written_reads_it_back_at_once(replicated: Replicated) -> None:
    router = replicated.router()
    writes = writer(replicated, router)
    reads = SqlUnitOfWork(router._primary, router=router, guarantee=Guarantee.READ_YOUR_WRITES)
    reading_as(MANAGER.user_id)

    for attempt in range(100):
        product_id = add_product(writes, f"p{attempt}")
        assert products.get_product(uow=reads, product_id=product_id).name == f"p{attempt}"

    time.sleep((APPLY_DELAY_MS + 300) / 1000)  # the replica applies them, the poller sees it
    products.get_product(uow=reads, product_id=product_id)
    assert replicated.served.reads["replica"] >= 1, "once the replica has it, the replica serves"
    router.stop()


def test_the_views_lagging_reads_go_through_the_router_and_fresh_ones_never(replicated: Replicated) -> None:
    router = replicated.router()
    writes = writer(replicated, router)
    views = SqlReads(router._primary, router=router)
    reading_as(MANAGER.user_id)
    for attempt in range(20):
        product_id = add_product(writes, f"v{attempt}")
        with views.connection(Consistency.MAY_LAG) as conn:
            found = conn.product(product_id)
            assert found is not None and found.name == f"v{attempt}"

    time.sleep((APPLY_DELAY_MS + 300) / 1000)
    with views.connection(Consistency.MAY_LAG) as conn:
        assert conn.product(product_id) is not None
    assert replicated.served.reads["replica"] >= 1, "once the replica has it, the replica serves"
    before = replicated.served.reads.copy()
    with views.connection(Consistency.FRESH) as conn:
        assert conn.product(product_id) is not None
    assert replicated.served.reads == before, "a FRESH read never asks the router"

    # What fills the shared cache for everyone holds every write, even read by someone else at once.
    cached = SqlReads(router._primary, router=router, lagging=Guarantee.EVERY_WRITE)
    product_id = add_product(writes, "shared")
    reading_as(None)
    with cached.connection(Consistency.MAY_LAG) as conn:
        assert conn.product(product_id) is not None
    router.stop()


@pytest.mark.parametrize("max_lag_ms", [1000, 300])
def test_nobody_is_served_from_a_replica_further_behind_than_the_bound(replicated: Replicated, max_lag_ms: int) -> None:
    """Writes every 50 ms by one user; someone else, reading meanwhile, always gets every product
    committed more than max_lag_ms before the read. A bound below the replica's delay: the primary."""
    router = replicated.router(max_lag_ms=max_lag_ms)
    committed: list[tuple[float, int]] = []
    done = threading.Event()

    def write() -> None:
        reading_as(MANAGER.user_id)
        uow = writer(replicated, router)
        for n in range(1000):
            if done.is_set():
                return
            product_id = add_product(uow, f"w{n}")
            committed.append((time.monotonic(), product_id))
            time.sleep(0.05)

    thread = threading.Thread(target=write)
    thread.start()
    reads = SqlUnitOfWork(router._primary, router=router, guarantee=Guarantee.READ_YOUR_WRITES)
    reading_as(None)
    checked = 0
    try:
        until = time.monotonic() + 3
        while time.monotonic() < until:
            started = time.monotonic()
            due = [product_id for moment, product_id in committed if moment < started - max_lag_ms / 1000]
            if due:
                products.get_product(uow=reads, product_id=due[-1])  # NotFound would fail the test
                checked += 1
            time.sleep(0.01)
    finally:
        done.set()
        thread.join()
        router.stop()
    assert checked > 50
    if max_lag_ms > APPLY_DELAY_MS:
        assert replicated.served.reads["replica"] > 0.5 * checked, replicated.served.reads
    else:
        assert replicated.served.reads["replica"] == 0, replicated.served.reads


def test_a_replica_that_stops_sends_its_reads_to_the_primary_without_an_error(replicated: Replicated) -> None:
    router = replicated.router()
    product_id = add_product(writer(replicated, router), "kept")
    reads = SqlUnitOfWork(router._primary, router=router, guarantee=Guarantee.READ_YOUR_WRITES)
    time.sleep((APPLY_DELAY_MS + 300) / 1000)
    products.get_product(uow=reads, product_id=product_id)
    assert replicated.served.reads["replica"] == 1

    replicated.replica.stop()
    for _ in range(20):  # the first ones before any poll has noticed
        assert products.get_product(uow=reads, product_id=product_id).name == "kept"
    assert replicated.served.reads["replica"] == 1
    assert replicated.served.reads[PRIMARY] >= 20
    router.stop()
