"""The operator commands, run as an operator would (click's runner, a real SQLite file)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, insert, select

from shop.adapters import amqp
from shop.adapters.sql.migrations import current_revision, head_revision
from shop.adapters.sql.tables import attempts, outbox
from shop.entrypoints import cli
from shop.entrypoints.cli import main

SHOP = Path(sys.executable).with_name("shop")  # the console script an operator runs


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


def test_the_relay_behind_pgbouncer_needs_a_direct_connection_for_its_lock(tmp_path: Path) -> None:
    """Its lock lives as long as a database session; PgBouncer's transaction pooling has none to give."""
    env = {
        "DATABASE_URL": "postgresql+psycopg://shop@pgbouncer:6432/shop",
        "DB_POOLER": "pgbouncer",
        "BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
        "SHOP_VAR_DIR": str(tmp_path),
    }

    result = CliRunner().invoke(main, ["relay"], env=env)

    assert result.exit_code == 2
    assert "RELAY_DATABASE_URL" in result.output


def test_demote_makes_a_manager_a_customer_and_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    env = {"DATABASE_URL": url, "SHOP_VAR_DIR": str(tmp_path), "SHOP_MANAGER_PASSWORD": "a-long-passphrase"}
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    assert runner.invoke(main, ["manager", "alice"], env=env).exit_code == 0
    assert runner.invoke(main, ["manager", "bob"], env=env).exit_code == 0

    demoted = runner.invoke(main, ["demote", "alice"], env=env)
    again = runner.invoke(main, ["demote", "alice"], env=env)
    unknown = runner.invoke(main, ["demote", "nobody"], env=env)

    assert (demoted.exit_code, demoted.output) == (0, "demoted 'alice' (id 1)\n")
    assert (again.exit_code, again.output) == (0, "already a customer: 'alice' (id 1)\n")
    assert unknown.exit_code == 1
    assert "not found" in unknown.output.lower()


def test_demote_keeps_the_last_manager_unless_forced(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "SHOP_VAR_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    created = runner.invoke(main, ["manager", "alice"], env={**env, "SHOP_MANAGER_PASSWORD": "a-long-passphrase"})
    assert created.exit_code == 0, created.output

    refused = runner.invoke(main, ["demote", "alice"], env=env)
    forced = runner.invoke(main, ["demote", "--force", "alice"], env=env)

    assert refused.exit_code == 1
    assert refused.output == (
        "error: 'alice' is the last manager: nobody would be left to manage the shop. "
        "Make another manager first, or force it: shop demote --force (make demote FORCE=1)\n"
    )
    assert (forced.exit_code, forced.output) == (0, "demoted 'alice' (id 1)\n")


def test_a_bad_setting_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}", "SHOP_VAR_DIR": str(tmp_path)}

    result = CliRunner().invoke(main, ["purge"], env={**env, "OUTBOX_RETENTION_HOURS": "0"})

    assert (result.exit_code, result.output) == (2, "error: OUTBOX_RETENTION_HOURS must be at least 1, got 0\n")


def test_a_relay_whose_port_is_taken_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "SHOP_VAR_DIR": str(tmp_path)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = CliRunner().invoke(
            main, ["relay"], env={**env, "RELAY_PORT": str(port), "BROKER_URL": "amqp://guest:guest@127.0.0.1:1/"}
        )

    assert result.exit_code == 2
    assert result.output == (
        f"error: port {port} on 127.0.0.1 is taken: set RELAY_PORT to another port for each relay on one host\n"
    )


def test_a_new_manager_s_password_is_asked_for_in_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}", "SHOP_VAR_DIR": str(tmp_path), "SHOP_MANAGER_PASSWORD": ""}
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    monkeypatch.setattr(cli, "_interactive", lambda: True)

    result = runner.invoke(main, ["manager", "alice"], env=env, input="a-long-passphrase\na-long-passphrase\n")

    assert result.exit_code == 0, result.output
    assert "created manager 'alice'" in result.output
    assert "a-long-passphrase" not in result.output  # typed, never echoed
    assert runner.invoke(main, ["manager", "alice"], env=env).output.startswith("promoted manager 'alice'")


def test_without_a_terminal_a_new_manager_needs_the_password_variable(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}", "SHOP_VAR_DIR": str(tmp_path), "SHOP_MANAGER_PASSWORD": ""}
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0

    result = runner.invoke(main, ["manager", "alice"], env=env)

    assert result.exit_code == 1
    assert "Set SHOP_MANAGER_PASSWORD, or run this in a terminal" in result.output


def test_events_tail_says_what_it_waits_for_without_the_broker_s_password(monkeypatch: pytest.MonkeyPatch) -> None:
    def receive(url: str, pattern: str, on_message: Callable[..., bool], on_ready: Callable[[], None]) -> None:
        on_ready()
        on_message("order.placed", {"message_id": "m1"}, b'{"id": "m1"}')

    monkeypatch.setattr(amqp, "tail", receive)
    env = {"BROKER_URL": "amqp://guest:s3cret@127.0.0.1:5672/%2F"}

    result = CliRunner().invoke(main, ["events", "tail", "--pattern", "order.*", "--count", "1"], env=env)

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "waiting for events matching 'order.*' on amqp://guest@127.0.0.1:5672/%2F... (Ctrl-C to stop)",
        '{"routing_key": "order.placed", "message_id": "m1", "body": {"id": "m1"}}',
    ]


def test_events_tail_without_a_broker_is_one_line() -> None:
    """As a terminal shows it: the real command, in a process of its own."""
    env = {**os.environ, "BROKER_URL": "amqp://guest:s3cret@127.0.0.1:1/"}

    result = subprocess.run([SHOP, "events", "tail"], env=env, capture_output=True, text=True, timeout=60, check=False)

    assert (result.returncode, result.stdout) == (1, "")
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot reach the broker at amqp://guest@127.0.0.1:1/: AMQPConnectionError")
    assert "s3cret" not in line


def test_the_service_started_with_a_bad_setting_stops_with_one_line(tmp_path: Path) -> None:
    """make run's gunicorn loads the application first (preload_app): it prints the SettingsError alone."""
    env = {**os.environ, "SHOP_VAR_DIR": str(tmp_path), "PORT": "0", "WEB_CONCURRENCY": "1"}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "JWT_SECRET_KEY": "k" * 48, "ORDER_LOCK_TIMEOUT_MS": "5"}
    gunicorn = str(SHOP.with_name("gunicorn"))
    command = [gunicorn, "--config", "python:shop.entrypoints.gunicorn_conf", "shop.entrypoints.app:create_app()"]

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "Error: ORDER_LOCK_TIMEOUT_MS must be between 100 and 60000, got 5"
    ]
    assert "Traceback" not in result.stdout + result.stderr
