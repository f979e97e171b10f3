"""shop_order_outdated(): how one statement that places an order refuses, on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 18:00:00

An order is written, its stock taken and its events kept in one statement sent with its COMMIT
(SqlOrderRepository.add). When a product no longer matches what the order saw, the statement must
fail as a whole, so that the COMMIT behind it commits nothing: this function raises the error that
says so, under a SQLSTATE of its own. SQLite needs none: there the order is checked and written
statement by statement under the database's write lock.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION shop_order_outdated() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the order no longer matches its products' USING ERRCODE = 'SH409';
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION shop_order_outdated()")
