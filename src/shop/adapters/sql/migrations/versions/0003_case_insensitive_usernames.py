"""usernames are unique whatever their case

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    clashes = op.get_bind().execute(
        sa.text(
            "SELECT lower(username) AS name, count(*) AS n FROM users GROUP BY lower(username) "
            "HAVING count(*) > 1 ORDER BY 1"
        )
    )
    names = [row.name for row in clashes]
    if names:
        # Which account keeps the name is a decision for people, not for a migration.
        raise RuntimeError(
            "usernames that differ only in case must be renamed before this migration: " + ", ".join(names)
        )
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_username_lower", table_name="users")
