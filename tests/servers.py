"""Database servers a test starts as plain processes on loopback ports: PgBouncer in front of a
PostgreSQL, a PostgreSQL of its own (initdb into a temporary directory) and a streaming replica of it.

PostgreSQL and PgBouncer refuse to run as root: as root (CI), they run as the `postgres` user in
directories it owns. Every process gets its own session, so stopping it stops its children too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

HOST = "127.0.0.1"
PG_BIN = Path(os.environ.get("SHOP_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT_S = 30
LOG_TAIL_LINES = 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def missing(*programs: str) -> list[str]:
    """The programs (names on PATH, or paths) that are not installed."""
    return [p for p in programs if not (Path(p).is_file() if "/" in p else shutil.which(p))]


def required(variable: str, programs: list[str], package: str) -> str | None:
    """None when every program is installed; otherwise why the tests needing them skip. Raises when
    `variable` is 1 (CI installs the package and sets it): there, missing means broken."""
    absent = missing(*programs)
    if not absent:
        return None
    reason = f"{', '.join(absent)} not installed (Debian: apt-get install {package}; .ci/run installs it)"
    if os.environ.get(variable) == "1":
        raise RuntimeError(f"{variable}=1 but {reason}")
    return reason


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root for the `postgres` user; nothing when not root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres"}


def private_dir(prefix: str) -> Path:
    """A fresh temporary directory the servers' user owns (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix=f"shop-{prefix}-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(path, account.pw_uid, account.pw_gid)
    return path


def run(command: list[str], *, env: Mapping[str, str] | None = None, timeout: float = 120) -> str:
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False, **_run_as()
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
    return str(completed.stdout)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, explain: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout}s\n{explain()}")


def accepts(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def sqlalchemy_url(port: int, database: str, user: str = "postgres") -> str:
    return f"postgresql+psycopg://{user}@{HOST}:{port}/{database}"


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class Process:
    """A server process started in its own session, with its log in a file."""

    name: str
    command: list[str]
    log: Path
    env: dict[str, str] | None = None
    as_server_user: bool = True
    process: subprocess.Popen[bytes] = field(init=False, repr=False)

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **(_run_as() if self.as_server_user else {}),
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL for whatever is left of its process group."""
        if self.alive():
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return f"--- {self.name} ({self.log}):\n" + "\n".join(lines[-LOG_TAIL_LINES:])


class PgBouncer:
    """PgBouncer in transaction pooling in front of a PostgreSQL, trusting its client (the user of
    the upstream URL, with the URL's password towards the server).

    `options` is deliberately not in ignore_startup_parameters: a client sending startup options
    is refused, as by a PgBouncer left at its defaults."""

    def __init__(self, upstream: URL, *, pool_size: int = 10) -> None:
        self.upstream = upstream
        self.dir = private_dir("pgbouncer")
        self.port = free_port()
        user = upstream.username or "postgres"
        server = f"host={upstream.host or HOST} port={upstream.port or 5432} user={user}"
        if upstream.password:
            server += f" password={upstream.password}"
        (self.dir / "userlist.txt").write_text(f'"{user}" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = {server}",
                    "[pgbouncer]",
                    f"listen_addr = {HOST}",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self.dir / 'userlist.txt'}",
                    f"admin_users = {user}",
                    "pool_mode = transaction",
                    f"default_pool_size = {pool_size}",
                    "max_client_conn = 400",
                    "ignore_startup_parameters = extra_float_digits",
                    f"pidfile = {self.dir / 'pgbouncer.pid'}",
                    "",
                ]
            )
        )
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            for path in self.dir.iterdir():
                os.chown(path, account.pw_uid, account.pw_gid)
        self.server = Process("pgbouncer", ["pgbouncer", str(self.dir / "pgbouncer.ini")], self.dir / "pgbouncer.log")

    def start(self) -> PgBouncer:
        self.server.launch()
        wait_until(
            lambda: not self.server.alive() or accepts(self.port), START_TIMEOUT_S, "pgbouncer listening", self.tail
        )
        assert self.server.alive(), self.tail()
        return self

    @property
    def url(self) -> str:
        """The upstream URL's database, through PgBouncer."""
        return self.url_for(self.upstream.database or "postgres")

    def url_for(self, database: str) -> str:
        url = self.upstream.set(host=HOST, port=self.port, database=database, password=None)
        return url.render_as_string(hide_password=False)

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def tail(self) -> str:
        return self.server.tail()


class PostgresServer:
    """A PostgreSQL cluster of its own: initdb into a temporary directory, on a free port."""

    def __init__(self, name: str, data: Path, port: int) -> None:
        self.name = name
        self.data = data
        self.port = port
        self.log = data.parent / f"{name}.log"
        self.server = Process(
            name,
            [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data.parent), "-h", HOST],
            self.log,
        )

    @classmethod
    def initdb(cls, name: str = "primary", settings: Mapping[str, str] | None = None) -> PostgresServer:
        home = private_dir(name)
        data = home / "data"
        run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
        server = cls(name, data, free_port())
        server.configure(
            {
                "wal_level": "replica",
                "max_wal_senders": "5",
                "max_connections": "40",
                "shared_buffers": "16MB",
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                **(settings or {}),
            }
        )
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host replication all {HOST}/32 trust\n")
        return server

    def configure(self, settings: Mapping[str, str]) -> None:
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = '{value}'\n")

    def start(self) -> PostgresServer:
        self.server.launch()
        wait_until(lambda: not self.server.alive() or self.answers(), START_TIMEOUT_S, f"{self.name} up", self.tail)
        assert self.server.alive(), self.tail()
        return self

    def answers(self) -> bool:
        try:
            psycopg.connect(libpq_url(self.url()), connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def url(self, database: str = "postgres") -> str:
        return sqlalchemy_url(self.port, database)

    def execute(self, sql: str, parameters: tuple[Any, ...] = (), database: str = "postgres") -> list[tuple[Any, ...]]:
        with psycopg.connect(libpq_url(self.url(database)), autocommit=True) as connection:
            cursor = connection.execute(sql.encode(), parameters)
            return cursor.fetchall() if cursor.description else []

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL."""
        if self.server.alive():
            self.server.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.server.process.wait(15)
        self.server.stop()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data.parent, ignore_errors=True)

    def tail(self) -> str:
        return self.server.tail()

    def replica(self, name: str = "replica", *, apply_delay_ms: int = 0) -> PostgresServer:
        """A streaming replica of this server: pg_basebackup -R into a directory of its own, started
        on its own port. apply_delay_ms: recovery_min_apply_delay, for a replica that lags on purpose."""
        home = private_dir(name)
        data = home / "data"
        source = ["-h", HOST, "-p", str(self.port), "-U", "postgres"]
        run([str(PG_BIN / "pg_basebackup"), *source, "-D", str(data), "-R", "--checkpoint=fast"])
        replica = PostgresServer(name, data, free_port())
        replica.configure({"hot_standby": "on", "recovery_min_apply_delay": f"{apply_delay_ms}ms"})
        return replica.start()
