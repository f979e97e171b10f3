from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import pytest
from sqlalchemy import Engine

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.adapters.sealing import AesGcmSealer
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.messagebus import MessageBus
from shop.application.ports.unit_of_work import UnitOfWork
from tests.conftest import DATABASE_FIXTURES, engine_for


class UowFactory(Protocol):
    """A unit of work handing its events to bus."""

    def __call__(self, bus: MessageBus | None = None) -> UnitOfWork: ...


SqlUowFactory = Callable[[], UnitOfWork]
SEALER = AesGcmSealer("integration-tests-webhook-secret-key")


@pytest.fixture(params=["memory", "sqlite", "postgres", "pgbouncer"])
def uow_factory(request: pytest.FixtureRequest) -> Iterator[UowFactory]:
    """The same repository contract, run against the fake and both real databases, PostgreSQL also
    through PgBouncer."""
    if request.param == "memory":
        store = MemoryStore()
        yield lambda bus=None: MemoryUnitOfWork(store, bus)
        return
    url = request.getfixturevalue(DATABASE_FIXTURES[request.param])
    engine = engine_for(url)
    yield lambda bus=None: SqlUnitOfWork(engine, bus, sealer=SEALER)
    engine.dispose()


@pytest.fixture
def sql_uow_factory(engine: Engine) -> SqlUowFactory:
    """A real unit of work on SQLite and on PostgreSQL (for concurrency tests)."""
    return lambda: SqlUnitOfWork(engine, sealer=SEALER)
