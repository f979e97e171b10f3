"""The migrations build exactly the schema the code declares, and the database guards the rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.migrations import alembic_config, current_revision, head_revision, upgrade
from shop.adapters.sql.tables import metadata, order_lines, orders, products, users
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.ports.orders import OrderQuery


# SQLite can't reflect the expression index on lower(username): the tests below check it instead.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_match_the_declared_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_the_database_refuses_negative_stock(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(products).values(name="Bad", price_cents=100, currency="TWD", stock=-1))


def test_the_database_refuses_a_username_differing_only_in_case(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(users).values(username="alice", password_hash="h", role="customer"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(users).values(username="ALICE", password_hash="h", role="customer"))


def test_the_case_migration_stops_on_names_that_clash_and_names_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    engine = create_engine(url)
    with engine.begin() as conn:
        for name in ("alice", "Alice", "bob"):
            conn.execute(insert(users).values(username=name, password_hash="h", role="customer"))
    engine.dispose()

    with pytest.raises(RuntimeError, match=r"renamed before this migration: alice$"):
        upgrade(url)


def test_every_migration_can_be_undone_and_done_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'round_trip.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)

    engine = create_engine(url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    engine.dispose()


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _orders_of_the_previous_release(engine: Engine, *lines_of_each: list[tuple[int, int]]) -> None:
    """Orders as a release before 0010 writes them: lines, and no total_cents."""
    with engine.begin() as conn:
        alice = insert(users).values(username="alice", password_hash="h", role="customer")
        user_id = conn.execute(alice.returning(users.c.id)).scalar_one()
        tea = insert(products).values(name="Tea", price_cents=100, currency="TWD", stock=9)
        product_id = conn.execute(tea.returning(products.c.id)).scalar_one()
        for lines in lines_of_each:
            order = insert(orders).values(
                user_id=user_id, status="placed", currency="TWD", created_at=NOW, updated_at=NOW
            )
            order_id = conn.execute(order.returning(orders.c.id)).scalar_one()
            for cents, quantity in lines:
                conn.execute(
                    insert(order_lines).values(
                        order_id=order_id, product_id=product_id, name="Tea", unit_price_cents=cents, quantity=quantity
                    )
                )


def test_migration_0010_writes_the_total_of_every_order_there_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before_totals.db'}"
    upgrade(url, "0006")
    engine = create_engine(url)
    _orders_of_the_previous_release(engine, [(250, 2), (100, 1)], [(999, 3)])

    upgrade(url)

    with engine.connect() as conn:
        assert conn.execute(select(orders.c.id, orders.c.total_cents).order_by(orders.c.id)).all() == [
            (1, 600),
            (2, 2997),
        ]
    engine.dispose()


def test_orders_without_a_stored_total_sort_by_the_sum_of_their_lines(engine: Engine) -> None:
    _orders_of_the_previous_release(engine, [(500, 1)], [(100, 2), (100, 1)], [(900, 1)])
    with engine.begin() as conn:  # written during a rolling upgrade, by the release before 0010
        conn.execute(update(orders).where(orders.c.id != 3).values(total_cents=None))
        conn.execute(update(orders).where(orders.c.id == 3).values(total_cents=900))

    with SqlUnitOfWork(engine) as uow:
        by_total = uow.orders.list(OrderQuery(sort=("total",)))
        by_total_descending = uow.orders.list(OrderQuery(sort=("-total",)))

    assert [o.id for o in by_total.items] == [2, 1, 3]  # 3.00, 5.00, 9.00
    assert [o.id for o in by_total_descending.items] == [3, 1, 2]
