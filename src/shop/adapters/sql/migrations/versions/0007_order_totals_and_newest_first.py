"""orders.total_cents, filled from the lines, for sorting by total; (user_id, created_at, id) indexed
for a customer's orders newest first

Expand only: the column is nullable, so the previous release (which does not write it) keeps placing
orders during a rolling upgrade; listings read its NULLs as the sum of the lines. A later migration
may fill what is left and make it NOT NULL once no such release runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("total_cents", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE orders SET total_cents = (SELECT coalesce(sum(unit_price_cents * quantity), 0)"
        " FROM order_lines WHERE order_lines.order_id = orders.id) WHERE total_cents IS NULL"
    )
    op.create_index("ix_orders_user_id_created_at", "orders", ["user_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_orders_user_id_created_at", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("total_cents")
