"""attempts: what the failed-login and password-change limits count, shared by every worker

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table only: the release before this one never reads it and keeps serving meanwhile.
    op.create_table(
        "attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    op.create_index("ix_attempts_key_expires_at", "attempts", ["key", "expires_at"])
    op.create_index("ix_attempts_expires_at", "attempts", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_attempts_expires_at", table_name="attempts")
    op.drop_index("ix_attempts_key_expires_at", table_name="attempts")
    op.drop_table("attempts")
