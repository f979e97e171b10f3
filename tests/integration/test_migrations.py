"""The migrations build exactly the schema the code declares, and the database guards the rules."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.tables import metadata, products


def test_migrations_match_the_declared_tables(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_the_database_refuses_negative_stock(engine):
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(products).values(name="Bad", price_cents=100, currency="TWD", stock=-1))
