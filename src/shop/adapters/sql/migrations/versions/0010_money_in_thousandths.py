"""amounts in thousandths: products.price_milli, order_lines.unit_price_milli, orders.total_milli

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:00:00

Integer cents can't hold a dinar's three decimals (KWD, BHD...). Amounts are now kept in
thousandths of their currency, exact on both databases, backfilled from the cents (x 10; an
order's total from its lines, so those a release before 0007 left without one get one too). An
expand step, so the release before this one keeps serving on the new schema:

- it reads and writes only the cents, which this release keeps writing too (rounded half-even:
  during a rollout it shows a KWD price of 1.235 as 1.24, and an order it takes is priced as
  it showed it);
- when it writes cents without thousandths (a new product, a new price, an order and its lines),
  a trigger sets the thousandths from them: on an update, only when the cents changed and the
  thousandths did not, which is how the release before writes.

The contract migration of a later release makes the price columns (and, once every order has
one, total_milli) NOT NULL, and drops the triggers, ix_products_price_cents and the cents columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the cents, the thousandths)
AMOUNTS = (
    ("products", "price_cents", "price_milli"),
    ("order_lines", "unit_price_cents", "unit_price_milli"),
    ("orders", "total_cents", "total_milli"),
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, cents, milli in AMOUNTS:
        if postgres:
            op.add_column(table, sa.Column(milli, sa.BigInteger()))
        else:  # SQLite adds a CHECK only with its column
            check = (
                f" CONSTRAINT ck_products_price_milli_not_negative CHECK ({milli} >= 0)" if table == "products" else ""
            )
            op.execute(f"ALTER TABLE {table} ADD COLUMN {milli} BIGINT{check}")
        for statement in (_postgres_triggers if postgres else _sqlite_triggers)(table, cents, milli):
            op.execute(statement)
        if table == "orders":  # from the lines, exactly; an order without a total_cents gets one too
            op.execute(
                "UPDATE orders SET total_milli = (SELECT coalesce(sum(unit_price_milli * quantity), 0)"
                " FROM order_lines WHERE order_lines.order_id = orders.id) WHERE total_milli IS NULL"
            )
        else:
            op.execute(f"UPDATE {table} SET {milli} = {cents} * 10 WHERE {milli} IS NULL")  # noqa: S608
    if postgres:
        op.create_check_constraint(op.f("ck_products_price_milli_not_negative"), "products", "price_milli >= 0")
    op.create_index("ix_products_price_milli", "products", ["price_milli"])


def _postgres_triggers(table: str, cents: str, milli: str) -> list[str]:
    fill = f"shop_{table}_{milli}"
    statements = [
        f"CREATE OR REPLACE FUNCTION {fill}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN NEW.{milli} := NEW.{cents} * 10; RETURN NEW; END $$",
        f"CREATE TRIGGER {table}_{milli}_on_insert BEFORE INSERT ON {table} FOR EACH ROW "
        f"WHEN (NEW.{milli} IS NULL) EXECUTE FUNCTION {fill}()",
    ]
    if table == "products":  # order lines are never changed
        statements.append(
            f"CREATE TRIGGER {table}_{milli}_on_reprice BEFORE UPDATE OF {cents} ON {table} FOR EACH ROW "
            f"WHEN (NEW.{milli} IS NOT DISTINCT FROM OLD.{milli} AND NEW.{cents} IS DISTINCT FROM OLD.{cents}) "
            f"EXECUTE FUNCTION {fill}()"
        )
    return statements


def _sqlite_triggers(table: str, cents: str, milli: str) -> list[str]:
    fill = f"UPDATE {table} SET {milli} = NEW.{cents} * 10 WHERE id = NEW.id"  # noqa: S608
    statements = [
        f"CREATE TRIGGER {table}_{milli}_on_insert AFTER INSERT ON {table} FOR EACH ROW "
        f"WHEN NEW.{milli} IS NULL BEGIN {fill}; END"
    ]
    if table == "products":
        statements.append(
            f"CREATE TRIGGER {table}_{milli}_on_reprice AFTER UPDATE OF {cents} ON {table} FOR EACH ROW "
            f"WHEN NEW.{milli} IS OLD.{milli} AND NEW.{cents} IS NOT OLD.{cents} BEGIN {fill}; END"
        )
    return statements


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_products_price_milli", table_name="products")
    if postgres:
        op.drop_constraint(op.f("ck_products_price_milli_not_negative"), "products", type_="check")
    for table, _cents, milli in AMOUNTS:
        events = ("insert", "reprice") if table == "products" else ("insert",)
        for event in events:
            op.execute(f"DROP TRIGGER {table}_{milli}_on_{event}{f' ON {table}' if postgres else ''}")
        if postgres:
            op.execute(f"DROP FUNCTION shop_{table}_{milli}()")
        op.drop_column(table, milli)
