"""Connections: dead idle ones are replaced; read-only units of work cannot write; lock waits end."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.actors import Actor
from shop.application.errors import Busy
from shop.application.messagebus import MessageBus
from shop.application.ports.orders import OrderQuery
from shop.domain.money import Money
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from shop.domain.users import Role, User
from tests.conftest import engine_for
from tests.fakes import FakeClock

from ..support import assembled


def test_a_connection_killed_while_idle_is_replaced(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, ping_idle_s=0.0)
    with engine.connect() as conn:
        first_pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    libpq_url = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))

    with SqlUnitOfWork(engine) as uow:
        assert uow.users.get(1) is None
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != first_pid
    engine.dispose()


def test_a_read_only_unit_of_work_reads_committed_data_and_cannot_write(database_url: str) -> None:
    writer = engine_for(database_url)
    reader = engine_for(database_url, read_only=True)
    with SqlUnitOfWork(writer) as uow:
        uow.users.add(User(username="alice", password_hash="h"))
        uow.commit()

    with SqlUnitOfWork(reader) as uow:
        assert uow.users.get_by_username("alice") is not None
        with pytest.raises(DBAPIError):
            uow.users.add(User(username="bob", password_hash="h"))
    with SqlUnitOfWork(writer) as uow:
        assert uow.users.get_by_username("bob") is None
    writer.dispose()
    reader.dispose()


def take_one(engine: Engine, product_id: int) -> None:
    with SqlUnitOfWork(engine) as uow:
        [product] = uow.products.get_for_update([product_id]).values()
        product.take(1)
        uow.products.save(product)
        uow.commit()


def test_a_statement_waiting_for_a_lock_gives_up_after_the_timeout_and_writes_nothing(database_url: str) -> None:
    holder_engine = engine_for(database_url)
    waiter_engine = engine_for(database_url, statement_timeout_ms=300)
    with SqlUnitOfWork(holder_engine) as uow:
        uow.products.add(Product(name="Lamp", price=Money(Decimal("9.99"), "EUR"), stock=5))
        uow.commit()
    product_id = 1

    # PostgreSQL: the statement deadline ends the wait for the row lock (a 503 that says the database
    # is busy); SQLite: the busy timeout ends the wait for the write lock, which is a lock wait (Busy).
    expected = OperationalError if holder_engine.dialect.name == "postgresql" else Busy
    with SqlUnitOfWork(holder_engine) as holder:
        holder.products.get_for_update([product_id])
        started = time.monotonic()
        with pytest.raises(expected):
            take_one(waiter_engine, product_id)
        waited = time.monotonic() - started

    assert 0.25 < waited < 3
    with SqlUnitOfWork(holder_engine) as uow:
        product = uow.products.get(product_id)
        assert product is not None
        assert product.stock == 5
    holder_engine.dispose()
    waiter_engine.dispose()


def show(engine: Engine, setting: str) -> str:
    with engine.connect() as conn:
        value: str = conn.exec_driver_sql(f"SHOW {setting}").scalar_one()
        return value


def test_the_statement_timeout_joins_the_urls_own_server_options_and_zero_sends_none(pg_url: str) -> None:
    url = make_url(pg_url).update_query_dict({"options": "-c application_name=shop-test"})
    rendered = url.render_as_string(hide_password=False)
    timed, untimed = make_engine(rendered, statement_timeout_ms=1500), make_engine(rendered, statement_timeout_ms=0)

    assert (show(timed, "statement_timeout"), show(timed, "application_name")) == ("1500ms", "shop-test")
    assert (show(untimed, "statement_timeout"), show(untimed, "application_name")) == ("0", "shop-test")
    timed.dispose()
    untimed.dispose()


def test_an_order_waits_for_its_products_lock_only_as_long_as_its_own_timeout(database_url: str) -> None:
    """ORDER_LOCK_TIMEOUT_MS: an order behind a long transaction gives up (Busy, nothing written)
    while other statements keep the engine's longer deadline."""
    engine = engine_for(database_url, statement_timeout_ms=5000)
    with SqlUnitOfWork(engine) as uow:
        uow.users.add(User(username="buyer", password_hash="h"))
        uow.products.add(Product(name="Lamp", price=Money(Decimal("9.99"), "EUR"), stock=5))
        uow.commit()
    bus = MessageBus()
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    use = assembled(lambda: SqlUnitOfWork(engine, bus, lock_timeout_ms=300), clock=clock, bus=bus)
    buyer = Actor(1, Role.CUSTOMER)

    with SqlUnitOfWork(
        engine
    ) as holder:  # a manual UPDATE left open, a batch job: PostgreSQL's row lock, SQLite's write lock
        holder.products.get_for_update([1])
        started = time.monotonic()
        with pytest.raises(Busy):
            use.place_order(actor=buyer, items=[OrderItem(1, 1)])
        waited = time.monotonic() - started

    assert 0.25 < waited < 2, "the order's 300 ms, not the engine's 5 s"
    with SqlUnitOfWork(engine) as uow:
        product = uow.products.get(1)
        assert product is not None
        assert product.stock == 5
        assert uow.orders.list(OrderQuery()).total == 0
        assert uow.outbox.backlog().pending == 0
    placed = use.place_order(actor=buyer, items=[OrderItem(1, 1)])  # the lock gone, it goes through
    assert placed.order["items"][0]["quantity"] == 1
    engine.dispose()


def test_the_order_lock_timeout_lasts_one_transaction(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    with SqlUnitOfWork(engine, lock_timeout_ms=300) as uow:
        uow.users.get(1)
        assert show_in(uow, "lock_timeout") == "300ms"
    with SqlUnitOfWork(engine) as uow:  # the same pooled connection, another unit of work
        uow.users.get(1)
        assert show_in(uow, "lock_timeout") == "0"
    engine.dispose()


def show_in(uow: SqlUnitOfWork, setting: str) -> str:
    assert uow._conn is not None, "only inside the unit of work"
    value: str = uow._conn.connection().exec_driver_sql(f"SHOW {setting}").scalar_one()
    return value
