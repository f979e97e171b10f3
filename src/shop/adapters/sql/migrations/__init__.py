"""Alembic migrations; `upgrade()` applies them programmatically (the `shop migrate` command)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    """The revision `upgrade()` brings a database to."""
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def known_revisions() -> frozenset[str]:
    """Every revision this code has a migration for."""
    return frozenset(script.revision for script in _scripts().walk_revisions())


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at; None when it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()
