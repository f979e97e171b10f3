"""The operator commands, run as an operator would (click's runner, a real SQLite file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, func, insert, select

from shop.adapters.sql.migrations import current_revision, head_revision
from shop.adapters.sql.tables import attempts, outbox
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


def test_commands_that_sign_nothing_need_no_key_in_production(tmp_path: Path) -> None:
    """Least privilege: a purge job or the relay gets the database's credentials, not the signing key."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    env = {"SHOP_ENV": "production", "DATABASE_URL": url, "JWT_SECRET_KEY": "", "SHOP_VAR_DIR": str(tmp_path)}
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0

    result = CliRunner().invoke(main, ["purge"], env=env)

    assert result.exit_code == 0, result.output
    assert "0 sent events" in result.output
    assert not (tmp_path / "jwt-secret.dev").exists()


def test_purge_forgets_events_sent_before_the_retention_and_keeps_unsent_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    env = {"DATABASE_URL": url, "SHOP_VAR_DIR": str(tmp_path), "OUTBOX_RETENTION_HOURS": "1"}
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0
    engine = create_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for sent_at in (now - timedelta(hours=2), now - timedelta(minutes=30), None, None):
            conn.execute(
                insert(outbox).values(
                    event_id=str(sent_at), type="order.placed", aggregate_type="order", aggregate_id=1,
                    occurred_at=now - timedelta(days=3), body="{}", sent_at=sent_at,
                )
            )  # fmt: skip

    result = CliRunner().invoke(main, ["purge"], env=env)

    assert "1 sent events" in result.output, result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 3
    engine.dispose()


def test_purge_forgets_the_attempts_whose_window_passed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    env = {"DATABASE_URL": url, "SHOP_VAR_DIR": str(tmp_path)}
    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0
    engine = create_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for expires_at in (now - timedelta(seconds=1), now + timedelta(minutes=1)):
            conn.execute(insert(attempts).values(key="k" * 64, expires_at=expires_at))

    result = CliRunner().invoke(main, ["purge"], env=env)

    assert "1 expired attempts" in result.output, result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(attempts)).scalar_one() == 1
    engine.dispose()


def test_the_relay_needs_a_broker(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}", "SHOP_VAR_DIR": str(tmp_path), "BROKER_URL": ""}

    result = CliRunner().invoke(main, ["relay"], env=env)

    assert result.exit_code == 2
    assert "BROKER_URL" in result.output


def test_demote_makes_a_manager_a_customer_and_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    env = {"DATABASE_URL": url, "SHOP_VAR_DIR": str(tmp_path), "SHOP_MANAGER_PASSWORD": "a-long-passphrase"}
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    assert runner.invoke(main, ["manager", "alice"], env=env).exit_code == 0

    demoted = runner.invoke(main, ["demote", "alice"], env=env)
    again = runner.invoke(main, ["demote", "alice"], env=env)
    unknown = runner.invoke(main, ["demote", "nobody"], env=env)

    assert (demoted.exit_code, demoted.output) == (0, "demoted 'alice' (id 1)\n")
    assert (again.exit_code, again.output) == (0, "already a customer: 'alice' (id 1)\n")
    assert unknown.exit_code == 1
    assert "not found" in unknown.output.lower()
