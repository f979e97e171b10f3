"""The one place reads get their connection (Reads.connection) and the read router plugged into it:
FRESH always on the primary, MAY_LAG where the router's rule says, as the reader of the request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from shop import bootstrap
from shop.adapters.memory.positions import MemoryPositions
from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.reads import SqlReads
from shop.adapters.sql.replicas import PRIMARY, ReadRouter
from shop.application import commands as c
from shop.application.ports.reads import Consistency
from shop.application.ports.replicas import Guarantee
from shop.application.reads import reading_as


class RecordingRouter(ReadRouter):
    """The router's two calls around a read, recorded; every read is on the primary."""

    def __init__(self, primary: Engine) -> None:
        super().__init__(primary, {}, MemoryPositions())
        self.opened: list[tuple[Guarantee, int | None]] = []
        self.read: list[tuple[str, int | None]] = []

    def open(self, guarantee: Guarantee, reader: int | None = None) -> tuple[str, Connection]:
        self.opened.append((guarantee, reader))
        return PRIMARY, self._primary.connect()

    def after_read(self, source: str, connection: Connection, reader: int | None) -> None:
        self.read.append((source, reader))


@pytest.fixture
def primary(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url, read_only=True)
    yield engine
    engine.dispose()


def test_fresh_reads_never_ask_the_router(primary: Engine) -> None:
    router = RecordingRouter(primary)
    reading_as(7)
    with SqlReads(primary, router=router).connection(Consistency.FRESH) as conn:
        assert conn.user_id("nobody") is None
    assert router.opened == [] and router.read == []


def test_a_lagging_read_goes_where_the_router_says_as_the_request_reader(primary: Engine) -> None:
    router = RecordingRouter(primary)
    reading_as(7)
    with SqlReads(primary, router=router).connection(Consistency.MAY_LAG) as conn:
        assert conn.user_id("nobody") is None
    assert router.opened == [(Guarantee.READ_YOUR_WRITES, 7)]
    assert router.read == [(PRIMARY, 7)]  # what the reader saw is their floor from now on


def test_a_lagging_read_filling_the_shared_cache_must_hold_every_write(primary: Engine) -> None:
    router = RecordingRouter(primary)
    reading_as(None)
    with SqlReads(primary, router=router, lagging=Guarantee.EVERY_WRITE).connection(Consistency.MAY_LAG) as conn:
        conn.user_id("nobody")
    assert router.opened == [(Guarantee.EVERY_WRITE, None)]


def test_a_read_that_asks_nothing_opens_no_connection(primary: Engine) -> None:
    router = RecordingRouter(primary)
    with SqlReads(primary, router=router).connection(Consistency.MAY_LAG):
        pass
    assert router.opened == [] and router.read == []


@pytest.mark.parametrize("kind", [c.ListUsers, c.GetUser, c.ShowOverview, c.ListProducts, c.ListOrders, c.Usernames])
def test_user_pages_the_console_lists_and_the_overview_may_lag(kind: Any) -> None:
    assert bootstrap._source(kind, "uow") == "lagging_reader"


@pytest.mark.parametrize(
    "kind", [c.TokenStanding, c.CheckAccess, c.Verify, c.OutboxBacklog, c.GetOrder, c.GetProduct, c.ListWebhooks]
)
def test_standing_the_relay_and_what_a_manager_acts_on_read_the_primary(kind: Any) -> None:
    assert bootstrap._source(kind, "uow") == "reader"


@pytest.mark.parametrize("kind", [c.PlaceOrder, c.UpdateProduct, c.Login])
def test_commands_write_on_the_primary(kind: Any) -> None:
    assert bootstrap._source(kind, "uow") in {"uow", "order_uow"}
