"""names and usernames compared by their key: products.name_key, users.username_key

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00

The key is shop.domain.text.comparison_key (NFKC, invisible characters stripped, case-folded),
computed by the code: the databases' lower() and LIKE disagree beyond ASCII. An expand step, so
the release before this one keeps serving on the new schema:

- the columns are nullable, and when that release writes a row without its key (an insert, a
  rename) a trigger fills it with the nearest the database can compute (PostgreSQL: NFKC and
  lower(); SQLite: lower(), ASCII only). Its own indexes (the exact name, lower(username)) stay.
- existing rows whose keys collide (two live products "Matcha" and "MATCHA") are all kept, names
  untouched: the oldest gets the key, each later one the key followed by TWIN_MARK (U+001F, a
  control character no name may hold any more), so it is still found by a search, a new "matcha"
  is refused, and the twin keeps its key while its name stays (SqlProductRepository.save).

The contract migration of a later release recomputes the keys the triggers wrote (the same way),
makes both columns NOT NULL, and drops the triggers and the two older indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shop.domain.text import INVISIBLE, comparison_key

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TWIN_MARK = "\x1f"
KEY = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
# (table, the text, its key, which rows the key must be unique among)
KEYED = (("products", "name", "name_key", "NOT deleted"), ("users", "username", "username_key", "true"))


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE OR REPLACE FUNCTION shop_text_key(value text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS "
            f"$$ SELECT lower(normalize(regexp_replace(value, '[{INVISIBLE}]', '', 'g'), NFKC)) $$"
        )
    for table, column, key, live in KEYED:
        op.add_column(table, sa.Column(key, KEY))
        for statement in (_postgres_triggers if postgres else _sqlite_triggers)(table, column, key):
            op.execute(statement)
        _backfill(bind, table, column, key, live)
        where = sa.text(live) if live != "true" else None
        op.create_index(
            f"uq_{table}_{key}{'_live' if where is not None else ''}",
            table,
            [key],
            unique=True,
            postgresql_where=where,
            sqlite_where=where,
        )


def _backfill(bind: sa.Connection, table: str, column: str, key: str, live: str) -> None:
    """Every row's key, in id order; a later live row whose key is taken gets it with TWIN_MARKs."""
    rows = bind.execute(sa.text(f"SELECT id, {column} AS text, {live} AS live FROM {table} ORDER BY id"))  # noqa: S608
    taken: set[str] = set()
    keys = []
    for row in rows:
        value = comparison_key(row.text)
        if row.live:
            while value in taken:
                value += TWIN_MARK
            taken.add(value)
        keys.append({"id": row.id, "key": value})
    if keys:
        bind.execute(sa.text(f"UPDATE {table} SET {key} = :key WHERE id = :id"), keys)  # noqa: S608


def _postgres_triggers(table: str, column: str, key: str) -> list[str]:
    fill = f"shop_{table}_{key}"
    return [
        f"CREATE OR REPLACE FUNCTION {fill}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN NEW.{key} := shop_text_key(NEW.{column}); RETURN NEW; END $$",
        f"CREATE TRIGGER {table}_{key}_on_insert BEFORE INSERT ON {table} FOR EACH ROW "
        f"WHEN (NEW.{key} IS NULL) EXECUTE FUNCTION {fill}()",
        # A rename by the release before this one: the text changed, its key did not.
        f"CREATE TRIGGER {table}_{key}_on_rename BEFORE UPDATE OF {column} ON {table} FOR EACH ROW "
        f"WHEN (NEW.{key} IS NOT DISTINCT FROM OLD.{key} AND NEW.{column} IS DISTINCT FROM OLD.{column} "
        f"AND shop_text_key(NEW.{column}) IS DISTINCT FROM shop_text_key(OLD.{column})) EXECUTE FUNCTION {fill}()",
    ]


def _sqlite_triggers(table: str, column: str, key: str) -> list[str]:
    fill = f"UPDATE {table} SET {key} = lower(NEW.{column}) WHERE id = NEW.id"  # noqa: S608
    return [
        f"CREATE TRIGGER {table}_{key}_on_insert AFTER INSERT ON {table} FOR EACH ROW "
        f"WHEN NEW.{key} IS NULL BEGIN {fill}; END",
        f"CREATE TRIGGER {table}_{key}_on_rename AFTER UPDATE OF {column} ON {table} FOR EACH ROW "
        f"WHEN NEW.{key} IS OLD.{key} AND lower(NEW.{column}) IS NOT lower(OLD.{column}) BEGIN {fill}; END",
    ]


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, _column, key, live in KEYED:
        for event in ("insert", "rename"):
            op.execute(f"DROP TRIGGER {table}_{key}_on_{event}{f' ON {table}' if postgres else ''}")
        if postgres:
            op.execute(f"DROP FUNCTION shop_{table}_{key}()")
        op.drop_index(f"uq_{table}_{key}{'_live' if live != 'true' else ''}", table_name=table)
        op.drop_column(table, key)
    if postgres:
        op.execute("DROP FUNCTION shop_text_key(text)")
