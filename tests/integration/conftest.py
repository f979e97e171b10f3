from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import pytest
from sqlalchemy import Engine

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.adapters.sealing import AesGcmSealer
from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.messagebus import MessageBus
from shop.application.ports.unit_of_work import UnitOfWork


class UowFactory(Protocol):
    """A unit of work handing its events to bus."""

    def __call__(self, bus: MessageBus | None = None) -> UnitOfWork: ...


SqlUowFactory = Callable[[], UnitOfWork]
SEALER = AesGcmSealer("integration-tests-webhook-secret-key")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def uow_factory(request: pytest.FixtureRequest) -> Iterator[UowFactory]:
    """The same repository contract, run against the fake and both real databases."""
    if request.param == "memory":
        store = MemoryStore()
        yield lambda bus=None: MemoryUnitOfWork(store, bus)
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = make_engine(url)
    yield lambda bus=None: SqlUnitOfWork(engine, bus, sealer=SEALER)
    engine.dispose()


@pytest.fixture
def sql_uow_factory(engine: Engine) -> SqlUowFactory:
    """A real unit of work on SQLite and on PostgreSQL (for concurrency tests)."""
    return lambda: SqlUnitOfWork(engine, sealer=SEALER)
