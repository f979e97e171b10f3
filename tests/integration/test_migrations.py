"""The migrations build exactly the schema the code declares, and the database guards the rules."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.migrations import alembic_config, current_revision, head_revision, upgrade
from shop.adapters.sql.tables import metadata, order_lines, orders, products, users
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.errors import AlreadyExists
from shop.application.ports.orders import OrderQuery
from shop.application.ports.products import ProductQuery
from shop.domain.money import Money
from shop.domain.products import Product
from shop.domain.users import User
from tests.conftest import PG_URL

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, never migrated: a SQLite file, or a PostgreSQL schema of its own (so the
    shared test database stays at the head for the other tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (CI always sets it)")
    schema = f"migrating_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def run(url: str, statement: str, rows: list[dict[str, Any]] | dict[str, Any] | None = None) -> list[Any]:
    """One statement on its own connection, as another process (the release before) would send it."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), rows or {})
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


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


def test_every_migration_can_be_undone_and_done_again(blank_url: str) -> None:
    upgrade(blank_url)
    command.downgrade(alembic_config(blank_url), "base")
    upgrade(blank_url)

    engine = create_engine(blank_url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    engine.dispose()


OLD_PRODUCT = (
    "INSERT INTO products (name, price_cents, currency, stock, deleted) VALUES (:name, 100, 'TWD', 5, :deleted)"
)
OLD_USER = "INSERT INTO users (username, password_hash, role) VALUES (:name, 'h', 'customer')"


def test_the_key_migration_keeps_every_twin_and_only_new_names_are_refused(blank_url: str) -> None:
    upgrade(blank_url, "0006")
    names = ["Matcha", "MATCHA", "Matcha\u200b", "matcha", "Tea"]
    run(blank_url, OLD_PRODUCT, [{"name": n, "deleted": n == "matcha"} for n in names])
    run(blank_url, OLD_USER, [{"name": n} for n in ("alice", "Bob")])

    upgrade(blank_url)

    stored = run(blank_url, "SELECT name, name_key FROM products ORDER BY id")
    assert [tuple(row) for row in stored] == [
        ("Matcha", "matcha"),
        ("MATCHA", "matcha\x1f"),  # a twin: kept, with a key of its own
        ("Matcha\u200b", "matcha\x1f\x1f"),
        ("matcha", "matcha"),  # deleted: its key needs no mark
        ("Tea", "tea"),
    ]
    assert [tuple(row) for row in run(blank_url, "SELECT username_key FROM users ORDER BY id")] == [
        ("alice",),
        ("bob",),
    ]
    engine = make_engine(blank_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            twins = uow.products.list(ProductQuery(q="MATCHA")).items
            assert [p.name for p in twins] == ["Matcha", "MATCHA", "Matcha\u200b"]
            for twin in twins:
                twin.change(stock=7, now=NOW)  # a twin is saved as any product is
                uow.products.save(twin)
            uow.commit()
        with pytest.raises(AlreadyExists), SqlUnitOfWork(engine) as uow:
            uow.products.add(Product(name="matcha", price=Money(Decimal(1), "TWD"), stock=1))
        with pytest.raises(AlreadyExists), SqlUnitOfWork(engine) as uow:
            uow.users.add(User(username="BOB", password_hash="h"))
    finally:
        engine.dispose()


def test_rows_the_previous_release_writes_get_their_keys(blank_url: str) -> None:
    upgrade(blank_url)
    run(blank_url, OLD_PRODUCT, {"name": "Green Tea", "deleted": False})
    run(blank_url, OLD_USER, {"name": "Carol"})
    engine = make_engine(blank_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            assert [p.name for p in uow.products.list(ProductQuery(q="GREEN")).items] == ["Green Tea"]
            carol = uow.users.get_by_username("CAROL")
        assert carol is not None and carol.username == "Carol"
        with pytest.raises(AlreadyExists), SqlUnitOfWork(engine) as uow:
            uow.products.add(Product(name="green tea", price=Money(Decimal(1), "TWD"), stock=1))

        run(
            blank_url,
            "UPDATE products SET name = 'Matcha Latte', price_cents = 100, stock = 5 WHERE name = 'Green Tea'",
        )
        run(blank_url, "UPDATE users SET username = 'Caroline' WHERE username = 'Carol'")

        with SqlUnitOfWork(engine) as uow:
            assert [p.name for p in uow.products.list(ProductQuery(q="latte")).items] == ["Matcha Latte"]
            assert uow.products.list(ProductQuery(q="green")).items == []
            assert uow.users.get_by_username("caroline") is not None
        with pytest.raises(AlreadyExists), SqlUnitOfWork(engine) as uow:
            uow.products.add(Product(name="MATCHA LATTE", price=Money(Decimal(1), "TWD"), stock=1))
    finally:
        engine.dispose()


def test_the_money_migration_keeps_every_amount(blank_url: str) -> None:
    upgrade(blank_url, "0009")
    run(blank_url, OLD_USER, {"name": "carol"})
    run(blank_url, OLD_PRODUCT.replace("100, 'TWD'", "1050, 'TWD'"), {"name": "Tea", "deleted": False})
    run(blank_url, OLD_PRODUCT.replace("100, 'TWD'", "10050, 'JPY'"), {"name": "Yuzu", "deleted": False})
    run(blank_url, OLD_ORDER)
    run(blank_url, OLD_LINE, {"name": "Tea", "product": 1, "cents": 1050})

    upgrade(blank_url)

    assert [tuple(r) for r in run(blank_url, "SELECT price_cents, price_milli FROM products ORDER BY id")] == [
        (1050, 10500),
        (10050, 100500),
    ]
    engine = make_engine(blank_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            shown = [str(p.price) for p in uow.products.list(ProductQuery()).items]
            order = uow.orders.get(1)
        assert shown == ["10.50 TWD", "100.50 JPY"]  # a yen price with cents, from before: kept, not rounded
        assert order is not None and str(order.total) == "21.00 TWD"
    finally:
        engine.dispose()
    assert [tuple(row) for row in run(blank_url, "SELECT total_milli FROM orders")] == [(21000,)]


def test_the_previous_release_keeps_reading_and_writing_cents(blank_url: str) -> None:
    upgrade(blank_url)
    run(blank_url, OLD_USER, {"name": "carol"})
    run(blank_url, OLD_PRODUCT.replace("100, 'TWD'", "1050, 'TWD'"), {"name": "Tea", "deleted": False})
    run(blank_url, "UPDATE products SET name = 'Tea', price_cents = 1275, stock = 5 WHERE id = 1")
    run(blank_url, OLD_ORDER.replace("(user_id,", "(total_cents, user_id,").replace("VALUES (", "VALUES (2550, "))
    run(blank_url, OLD_LINE, {"name": "Tea", "product": 1, "cents": 1275})
    assert [tuple(row) for row in run(blank_url, "SELECT total_cents, total_milli FROM orders")] == [(2550, 25500)]
    engine = make_engine(blank_url)
    try:
        with SqlUnitOfWork(engine) as uow:
            tea = uow.products.get(1)
            order = uow.orders.get(1)
            assert tea is not None and str(tea.price) == "12.75 TWD"
            assert order is not None and str(order.total) == "25.50 TWD"
            for name, price, currency in (("Dinar", "1.235", "KWD"), ("Yen", "1500", "JPY")):
                uow.products.add(Product.create(name=name, price=price, currency=currency, stock=1, now=NOW))
            uow.commit()
        with SqlUnitOfWork(engine) as uow:
            dinar = uow.products.get_for_update([2])[2]
            dinar.change(price="1.236", now=NOW)  # the same cents: the thousandths must still change
            uow.products.save(dinar)
            uow.commit()
        with SqlUnitOfWork(engine) as uow:
            assert str(uow.products.get_many([2])[2].price) == "1.236 KWD"
    finally:
        engine.dispose()
    cents = "SELECT price_cents, price_milli FROM products WHERE id > 1 ORDER BY id"
    assert [tuple(row) for row in run(blank_url, cents)] == [(124, 1236), (150000, 1500000)]


OLD_ORDER = (
    "INSERT INTO orders (user_id, status, currency, created_at, updated_at) "
    "VALUES (1, 'placed', 'TWD', '2026-11-30 10:00:00', '2026-11-30 10:00:00')"
)
OLD_LINE = (
    "INSERT INTO order_lines (order_id, product_id, name, unit_price_cents, quantity) "
    "VALUES (1, :product, :name, :cents, 2)"
)


def _orders_of_the_previous_release(engine: Engine, *lines_of_each: list[tuple[int, int]]) -> None:
    """Orders as a release before 0007 writes them: lines, and no total_cents."""
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
    with engine.begin() as conn:  # written during a rolling upgrade, by the release before 0007
        conn.execute(update(orders).where(orders.c.id != 3).values(total_cents=None))
        conn.execute(update(orders).where(orders.c.id == 3).values(total_cents=900))

    with SqlUnitOfWork(engine) as uow:
        by_total = uow.orders.list(OrderQuery(sort=("total",)))
        by_total_descending = uow.orders.list(OrderQuery(sort=("-total",)))

    assert [o.id for o in by_total.items] == [2, 1, 3]  # 3.00, 5.00, 9.00
    assert [o.id for o in by_total_descending.items] == [3, 1, 2]
