"""The migrations build exactly the schema the code declares, and the database guards the rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.migrations import alembic_config, current_revision, head_revision, upgrade
from shop.adapters.sql.tables import metadata, products, users


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
