"""The Makefile as a person runs it: `make` lists every target, `make manager` never shows the password,
`make demote` keeps the last manager unless FORCE=1. Real make, over a SQLite file in tmp_path; the
virtualenv is taken as installed (-o), so no test reinstalls anything."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from shop.container import Container
from shop.entrypoints.settings import Settings
from tests.support import UseCases

REPO = Path(__file__).resolve().parents[2]
# A password make and the shell would both mangle if it passed through a command line.
PASSWORD = """it's a "$HOME" & $(PATH) `pass`"""


def make(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", f"BIN={Path(sys.executable).parent}"]
    return subprocess.run(
        [*command, *arguments], cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'make.db'}", "SHOP_VAR_DIR": str(tmp_path)}


def phony_targets() -> list[str]:
    found = re.search(r"^\.PHONY:(.*)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert found is not None
    return found.group(1).split()


def test_make_alone_lists_every_target_with_what_it_does() -> None:
    listed = make()

    assert listed.returncode == 0, listed.stderr
    described = dict(re.findall(r"^  (\S+) +(.+)$", listed.stdout, re.MULTILINE))
    assert sorted(described) == sorted(phony_targets())
    assert make("help").stdout == listed.stdout


def test_make_manager_never_shows_the_password(database: dict[str, str]) -> None:
    shown = make("-n", "manager", "USERNAME=alice", f"PASSWORD={PASSWORD}", env=database)
    created = make("manager", "USERNAME=alice", f"PASSWORD={PASSWORD}", env=database)

    assert created.returncode == 0, created.stderr
    assert "created manager 'alice'" in created.stdout
    for output in (shown.stdout, shown.stderr, created.stdout, created.stderr):
        assert "pass`" not in output and "HOME" not in output
    container = Container()
    container.config.from_dict(asdict(Settings.from_env(env={**os.environ, **database, "JWT_SECRET_KEY": "k" * 48})))
    signed_in = UseCases(container.bus()).login(
        username="alice", password=PASSWORD, managers_only=True
    )  # the password, intact
    assert signed_in.user.username == "alice"


def test_make_manager_takes_the_password_from_the_environment_too(database: dict[str, str]) -> None:
    created = make("manager", "USERNAME=bob", env={**database, "SHOP_MANAGER_PASSWORD": PASSWORD})

    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr


def test_make_demote_keeps_the_last_manager_unless_forced(database: dict[str, str]) -> None:
    assert make("manager", "USERNAME=alice", f"PASSWORD={PASSWORD}", env=database).returncode == 0

    refused = make("demote", "USERNAME=alice", env=database)
    forced = make("demote", "USERNAME=alice", "FORCE=1", env=database)

    assert refused.returncode != 0
    assert "'alice' is the last manager" in refused.stderr
    assert forced.returncode == 0, forced.stderr
    assert "demoted 'alice'" in forced.stdout
