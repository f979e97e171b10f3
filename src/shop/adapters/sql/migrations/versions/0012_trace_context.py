"""trace context: the outbox and the webhook deliveries keep the W3C Trace Context of their request

Expand only: two nullable columns. The previous release neither writes nor reads them; its rows are
published and delivered without a trace context, as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("trace_context", sa.Text(), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("trace_context", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("trace_context")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("trace_context")
