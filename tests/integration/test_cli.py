"""The operator commands, run as an operator would (click's runner, a real SQLite file)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine

from shop.adapters.sql.migrations import current_revision, head_revision
from shop.entrypoints.cli import main


def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def test_migrate_in_production_needs_the_database_and_nothing_else(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    env = {"SHOP_ENV": "production", "DATABASE_URL": url, "JWT_SECRET_KEY": "", "SHOP_VAR_DIR": str(tmp_path)}

    result = CliRunner().invoke(main, ["migrate"], env=env)

    assert result.exit_code == 0, result.output
    assert revision(url) == head_revision()
    assert not (tmp_path / "jwt-secret.dev").exists()  # no key was generated on the way


def test_the_service_commands_still_refuse_production_without_a_key(tmp_path: Path) -> None:
    env = {"SHOP_ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "JWT_SECRET_KEY": ""}

    result = CliRunner().invoke(main, ["purge"], env=env)

    assert result.exit_code != 0
    assert "JWT_SECRET_KEY" in str(result.exception)
