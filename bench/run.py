"""Load-test the service as production runs it with wrk, on fresh databases, and count what each request costs.

    .venv/bin/python bench/run.py [--sqlite] [--server SERVER[,SERVER...]] [--baseline GIT_REF] [--rounds N]
                                  [--tracing off,1,0.1]
                                  [--workers N] [--duration 10s] [--connections 16] [--threads 2]

Each target (a tree of the code served by one HTTP server) gets a fresh database (BENCH_DATABASE_URL, with
_1, _2... appended when there are several), a Redis database of its own (--redis-url, the next numbers for
the next targets; emptied at start), `shop migrate`, a manager made by `shop manager`, then its service and
`shop relay` publishing to RabbitMQ (BENCH_BROKER_URL, --broker-url "" for none); a customer and the catalog
are created through the API, so every version of the code is seeded the same way. Each wrk scenario is
run against one target after the other, in alternating order for --rounds rounds (A B, B A, A B...), so
that a drift of the machine hits all of them alike. Each run starts the target's server afresh and warms
it up on the same scenario for 2 s (only one target's pools hold PostgreSQL connections at a time).

Around each wrk run the CPU time (utime + stime from /proc, and cutime + cstime, where the time of
exited processes lands once their parent reaps them) is read for the service (the process the bench
started and all its descendants, workers replaced mid-run included), PostgreSQL (found as a backend's
parent: the postmaster's own time, its background processes and the backends of the target's
database; the whole server, other databases too, is in the table of every run), Redis (every
redis-server: anything else using it meanwhile is counted too, so run under `flock
/tmp/shop-tests.lock`) and the target's relay, and divided by the requests wrk completed.

Servers (--server, or BENCH_SERVER; `name:threads` sets the threads a worker serves requests with):
gunicorn-gthread (production: gunicorn_conf, --web-threads threads), gunicorn-sync, granian (--interface
wsgi, --blocking-threads, default 1; not a dependency of the project: `.venv/bin/pip install granian`).
With --baseline GIT_REF that commit is checked out in a temporary
worktree (removed at the end) with a virtualenv of its own (cached in var/bench/venv-<commit>/) and
served by --baseline-server; the working tree is the candidate. Every figure of every other target is
then also given as a ratio to the first one: the baseline, or else the first server named.

After the scenarios: each worker's memory (at the end of the target's last run), a check through the
API that the stock taken equals the orders recorded and that every order's event was confirmed by the
broker, how fast the relay drains a backlog, then (PostgreSQL) the pgbench ceiling of the order
transaction alone, on the last target's database. The report goes to var/bench/results-<UTC time>.md
and var/bench/latest.md; the service logs and the raw wrk and pgbench outputs to var/bench/<UTC time>/.

Tracing (--tracing, a list of settings): each setting is a target of its own, the candidate served by the
first server named. `off` leaves tracing off (no OTEL_* endpoint); a number is the share of traces
sampled (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG), exported over OTLP/HTTP
to a receiver of this script on loopback, which reads and drops each export as a collector would
(its CPU is this script's, not the service's). Every figure is then a ratio to the first setting.

Exit status: 0; 1 when a consistency check fails; 2 when wrk or pgbench is missing; 3 when a step
fails (the message tells where to look).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from pgbench import generate  # bench/pgbench/generate.py
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VAR = ROOT / "var" / "bench"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/shop_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"  # the tests use 0, 3 and 4
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
RELAY_BACKLOG = 20_000  # events put in the outbox at once to time the relay draining them
DRAIN_TIMEOUT_S = 120
HOST = "127.0.0.1"
PRODUCTS = 200
STOCK = 1_000_000
PRICE = "10.00"
READY_TIMEOUT_S = 30
WARMUP_S = 2
STOP_TIMEOUT_S = 30
GRACEFUL_TIMEOUT_S = 25  # gunicorn_conf's default; given to the other servers too
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
INSTALL_HINTS = {
    "wrk": "apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)",
    "pgbench": "apt-get install postgresql-client (Debian/Ubuntu), or run with --sqlite",
}
ACCESS_STATUS = re.compile(r'"logger":"shop\.access".*?"status":(\d{3})')
LOG_ERROR = re.compile(r'"level":"(ERROR|CRITICAL)"|Traceback \(most recent call last\)')
PGBENCH_TPS = re.compile(r"tps = ([\d.]+) \(without initial connection time\)")
CPU_GROUPS = ("service", "postgres", "redis", "relay")
RUN_GROUPS = ("service", "postgres", "postgres-server")
CPU_FLOOR_MS = 0.02  # below it per request, a ratio is the clock tick's noise


class BenchError(Exception):
    """A step of the run failed; the message tells which, and where to look."""


@dataclass(frozen=True)
class Load:
    threads: int
    connections: int
    seconds: int


@dataclass(frozen=True)
class Account:
    username: str
    password: str


@dataclass(frozen=True)
class Seed:
    customer: Account
    customer_id: int
    manager: Account
    first_product: int
    last_product: int
    hot_product: int


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str  # {n}, here and in body, becomes a random integer in [low, high] for each request
    account: Account | None  # whose access token goes with the requests
    low: int = 1
    high: int = 1
    body: str = ""
    page_size: int | None = None  # for lists: the items of one response
    ceiling: str | None = None  # the pgbench variant that bounds it


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_us: int
    p50_us: int
    p99_us: int
    non_2xx_3xx: int
    socket_errors: int

    @property
    def per_second(self) -> float:
        return self.requests / (self.duration_us / 1e6)


@dataclass(frozen=True)
class Tree:
    """A checkout of the code and the virtualenv whose commands serve it."""

    label: str
    root: Path
    bin: Path


@dataclass(frozen=True)
class Server:
    """An HTTP server and how many threads each of its workers serves requests with."""

    name: str
    threads: int

    def __str__(self) -> str:
        if self.name == "gunicorn-sync":
            return self.name
        return f"{self.name}, {self.threads} thread{'s' if self.threads > 1 else ''}"

    def command(self, tree: Tree, port: int, workers: int) -> list[str]:
        if self.name.startswith("gunicorn-"):
            config = "python:shop.entrypoints.gunicorn_conf"
            return [str(tree.bin / "gunicorn"), "--config", config, "shop.entrypoints.app:create_app()"]
        return [
            *(str(tree.bin / "granian"), "--interface", "wsgi", "--host", HOST, "--port", str(port)),
            *("--workers", str(workers), "--blocking-threads", str(self.threads)),
            *("--respawn-failed-workers", "--workers-kill-timeout", str(GRACEFUL_TIMEOUT_S)),
            *("--factory", "shop.entrypoints.app:create_app"),
        ]

    def environment(self, metrics: Path) -> dict[str, str]:
        """What gunicorn_conf sets up for gunicorn, given to the others through their environment."""
        if self.name.startswith("gunicorn-"):
            return {"WORKER_CLASS": self.name.removeprefix("gunicorn-")}
        metrics.mkdir(parents=True, exist_ok=True)
        tunables = os.environ.get("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")
        return {
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            # gunicorn_conf's mallopt(M_MMAP_THRESHOLD, 128 KiB), as a glibc tunable.
            "GLIBC_TUNABLES": f"{tunables}:glibc.malloc.mmap_threshold=131072",
        }


SERVER_THREADS = {"gunicorn-gthread": 8, "gunicorn-sync": 1, "granian": 1}


class OtlpSink:
    """An OTLP/HTTP endpoint on loopback that reads each export, answers 200 and keeps only counts."""

    def __init__(self) -> None:
        self.exports = 0
        self.bytes = 0
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def start(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                size = len(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                sink.exports += 1
                sink.bytes += size
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="otlp-sink", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()


OTLP_SINK = OtlpSink()


def tracing_setting(spec: str) -> str:
    spec = spec.strip().lower()
    if spec == "off":
        return spec
    try:
        share = float(spec)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"--tracing takes off or a share between 0 and 1, not {spec!r}")
    return repr(share)


def server(spec: str, web_threads: int = 8) -> Server:
    name, _, threads = spec.strip().partition(":")
    if name not in SERVER_THREADS:
        raise argparse.ArgumentTypeError(f"unknown server {name!r}: one of {', '.join(SERVER_THREADS)}")
    if threads and not (threads.isdigit() and int(threads) > 0):
        raise argparse.ArgumentTypeError(f"not a thread count: {spec!r} (example: granian:4)")
    default = web_threads if name == "gunicorn-gthread" else SERVER_THREADS[name]
    return Server(name, 1 if name == "gunicorn-sync" else int(threads or default))


@dataclass(frozen=True)
class Target:
    """One tree served by one server, on a database and a Redis database of its own."""

    tree: Tree
    server: Server
    database_url: str
    redis_url: str
    logs: Path
    tracing: str = ""  # "" or "off": no tracing; else the sampled share, exported to OTLP_URL

    @property
    def label(self) -> str:
        traced = ""
        if self.tracing == "off":
            traced = ", tracing off"
        elif self.tracing:
            traced = f", tracing {float(self.tracing):.0%} sampled"
        return f"{self.tree.label}, {self.server}{traced}"

    def tracing_environment(self) -> dict[str, str]:
        if not self.tracing or self.tracing == "off":
            return {}
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_SINK.url,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": self.tracing,
        }

    @property
    def log(self) -> Path:
        return self.logs / "service.log"


@dataclass(frozen=True)
class Service:
    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True)
class Running:
    """A target seeded, its relay running (its pid; None without a broker): its server is started for each run."""

    target: Target
    workers: int
    relay: int | None
    seed: Seed

    def service(self) -> AbstractContextManager[Service]:
        return running_service(self.target, self.workers)


@dataclass(frozen=True)
class Run:
    """One wrk run of one scenario against one target."""

    target: int  # its index in the targets
    round: int
    scenario: Scenario
    result: WrkResult
    statuses: Counter[str]  # as the service's access log tells them
    cpu: dict[str, float]  # seconds, by CPU_GROUPS


@dataclass(frozen=True)
class Summary:
    """The runs of one scenario against one target, taken together."""

    runs: list[Run]

    @property
    def requests(self) -> int:
        return sum(run.result.requests for run in self.runs)

    @property
    def per_second(self) -> float:
        return statistics.fmean(run.result.per_second for run in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.fmean(run.result.p50_us for run in self.runs) / 1000

    @property
    def p99_ms(self) -> float:
        return statistics.fmean(run.result.p99_us for run in self.runs) / 1000

    def cpu_ms(self, group: str) -> float | None:
        """CPU milliseconds per completed request; None when the group was not measured."""
        if any(group not in run.cpu for run in self.runs) or not self.requests:
            return None
        return sum(run.cpu[group] for run in self.runs) * 1000 / self.requests


@dataclass(frozen=True)
class Consistency:
    stock_taken: int
    orders: int
    events: int | None  # order.placed events the broker confirmed; None without a relay

    @property
    def ok(self) -> bool:
        return self.stock_taken == self.orders and self.events in (None, self.orders)

    def __str__(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH"
        told = "" if self.events is None else f", order.placed events confirmed by the broker {self.events}"
        return f"{verdict}: stock taken {self.stock_taken}, orders in the database {self.orders}{told}"


@dataclass
class Findings:
    """What the run found after the scenarios, per target index."""

    memory: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    consistency: dict[int, Consistency] = field(default_factory=dict)
    relay_rate: dict[int, tuple[float, float]] = field(default_factory=dict)  # events/s, CPU ms per event
    ceilings: dict[str, float] = field(default_factory=dict)


def duration(text: str) -> int:
    """Seconds of a wrk-style duration: 10, 10s, 2m, 1h."""
    match = re.fullmatch(r"(\d+)([smh]?)", text.strip())
    if match is None or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 10s, 2m)")
    return int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", action="store_true", help="fresh SQLite files instead of BENCH_DATABASE_URL")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (WEB_CONCURRENCY)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads of a gunicorn-gthread worker")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_SERVER") or "gunicorn-gthread",
        help="how the candidate is served, several separated by commas: "
        f"{', '.join(SERVER_THREADS)}, each optionally :threads",
    )
    parser.add_argument("--baseline", default="", help="a git ref to measure against, in the same run")
    parser.add_argument("--baseline-server", default="gunicorn-gthread", help="how the baseline is served")
    parser.add_argument(
        "--rounds", type=int, default=0, help="runs of each scenario per target (default 1, 2 when comparing)"
    )
    parser.add_argument("--duration", type=duration, default=10, help="of each scenario, as wrk takes it")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections, pgbench clients")
    parser.add_argument("--threads", type=int, default=2, help="wrk and pgbench threads")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="the shared cache (REDIS_URL) of the first target, emptied; the next targets get the next "
        "database numbers; an empty string runs without it",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL),
        help="RabbitMQ for the relay running beside the service (BROKER_URL); an empty string runs without it",
    )
    parser.add_argument(
        "--tracing",
        default="",
        help="tracing settings to compare, separated by commas: off, or the share of traces sampled (1, 0.1)",
    )
    options = parser.parse_args()
    try:
        options.tracings = [tracing_setting(spec) for spec in options.tracing.split(",") if spec.strip()]
        options.servers = [server(spec, options.web_threads) for spec in options.server.split(",") if spec.strip()]
        options.baseline_server = server(options.baseline_server, options.web_threads)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    return options


def missing_tools(postgres: bool) -> list[str]:
    needed = ["wrk", "pgbench"] if postgres else ["wrk"]
    return [tool for tool in needed if shutil.which(tool) is None]


def fresh_postgres(url: str) -> None:
    """Drop and create the database of url, from the server's maintenance database."""
    parsed = make_url(url)
    with psycopg.connect(maintenance(url), autocommit=True) as conn:
        name = sql.Identifier(parsed.database or "")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def maintenance(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def numbered(url: str, number: int) -> str:
    """The database of url with _number appended."""
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{number}").render_as_string(hide_password=False)


def redis_database(url: str, offset: int) -> str:
    """The Redis database offset numbers after url's."""
    if not url:
        return ""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + offset
    return urlunsplit(parts._replace(path=f"/{number}"))


def postmaster(database_url: str) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine: a backend's parent."""
    with psycopg.connect(maintenance(database_url)) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    try:
        return parent_of(int(row[0]))
    except OSError:
        return None  # another machine, or another PID namespace


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def processes_named(name: str) -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


@dataclass(frozen=True)
class Watched:
    """What is measured beside the service: every redis-server, and the PostgreSQL server's main
    process (None when the server is not on this machine)."""

    redis: list[int]
    postmaster: int | None


def cpu_ticks(trees: dict[str, list[int]], postmaster: int | None = None, database: str = "") -> dict[str, int]:
    """CPU ticks so far of each group of process trees, from one look at /proc.

    A tree's total is, over its live processes, utime + stime + cutime + cstime: a process that
    exits and is reaped hands its own and its children's time to its parent's cutime and cstime,
    so the total only grows, whatever was replaced in between.

    With the postmaster: "postgres-server", the whole server's tree, and "postgres", what the target
    costs it: the backends connected to its database, the server's background processes
    (checkpointer, WAL writer...) and the postmaster's own time (it forks every backend), without
    other databases' backends (other engineers' tests on a shared machine)."""
    children: dict[int, list[int]] = defaultdict(list)
    ticks: dict[int, int] = {}
    own: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid = int(stat.parent.name)
        children[int(fields[1])].append(pid)
        own[pid] = int(fields[11]) + int(fields[12])  # utime, stime
        ticks[pid] = own[pid] + int(fields[13]) + int(fields[14])  # and cutime, cstime

    def tree(pid: int) -> int:
        return ticks.get(pid, 0) + sum(tree(child) for child in children.get(pid, ()))

    totals = {name: sum(tree(root) for root in roots) for name, roots in trees.items()}
    if postmaster is not None:
        totals["postgres-server"] = tree(postmaster)
        totals["postgres"] = own.get(postmaster, 0) + sum(
            tree(child) for child in children.get(postmaster, ()) if serves(child, database)
        )
    return totals


POSTGRES_BACKGROUND = re.compile(
    r": (checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|archiver)\s*$"
)


def serves(backend: int, database: str) -> bool:
    """Whether a child of the postmaster works for database: one of its backends (their title names
    it: "postgres: 15/main: user database host(port) state"), or a background process."""
    try:
        title = Path(f"/proc/{backend}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return False
    return f" {database} " in f" {title} " or POSTGRES_BACKGROUND.search(title) is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def shop_command(tree: Tree, *arguments: str, env: dict[str, str]) -> None:
    """A `shop` operator command of the tree, which must succeed."""
    completed = subprocess.run(
        [str(tree.bin / "shop"), *arguments], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    if completed.returncode != 0:
        raise BenchError(f"shop {' '.join(arguments)} failed ({completed.returncode}): {completed.stderr[-2000:]}")


@contextmanager
def running_service(target: Target, workers: int) -> Iterator[Service]:
    """The target's server as production starts it; stopped on the way out, whatever happened."""
    port = free_port()
    env = {
        **os.environ,
        "HOST": HOST,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "WEB_THREADS": str(target.server.threads),
        "DATABASE_URL": target.database_url,
        "SHOP_ENV": "production",
        "TRUSTED_HOSTS": HOST,
        "METRICS_PUBLIC": "true",  # the bench scrapes nothing; the port is this machine's
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "SHOP_VAR_DIR": str(target.logs),
        "RATELIMIT_ENABLED": "false",
        "REDIS_URL": target.redis_url,
        "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1"),
        "PYTHONDONTWRITEBYTECODE": "1",
        **target.tracing_environment(),
    }
    env.update(target.server.environment(target.logs / "metrics"))
    command = target.server.command(target.tree, port, workers)
    with target.log.open("ab") as out:
        # A session of its own: Ctrl-C reaches this script, which then stops the server gracefully.
        process = subprocess.Popen(
            command, cwd=target.tree.root, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        service = Service(port, process.pid, target.log)
        wait_ready(service, process)
        yield service
    finally:
        stop(process)


@contextmanager
def running_relay(
    tree: Tree, database_url: str, broker_url: str, log: Path, tracing: dict[str, str] | None = None
) -> Iterator[int | None]:
    """`shop relay` beside the service, as production runs it; yields its pid (None: no broker)."""
    if not broker_url:
        yield None
        return
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BROKER_URL": broker_url,
        "RELAY_PORT": str(port),
        **(tracing or {}),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(tree.bin / "shop"), "relay"], cwd=tree.root, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not probe_ok(port, "/health/ready"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the relay did not get ready: see {log}")
            time.sleep(0.2)
        yield process.pid
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL after STOP_TIMEOUT_S: a graceful stop, bounded. Whatever is left of the
    process's group then (a worker its master did not stop) is killed too."""
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def probe_ok(port: int, path: str) -> bool:
    connection = HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def outbox_state(database_url: str) -> tuple[int, int]:
    """(pending events, order.placed events sent)."""
    with psycopg.connect(libpq(database_url)) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE sent_at IS NULL), "
            "count(*) FILTER (WHERE sent_at IS NOT NULL AND type = 'order.placed') FROM outbox"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_drained(database_url: str) -> int:
    """Once the relay has sent everything: the order.placed events the broker confirmed."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while (state := outbox_state(database_url))[0]:
        if time.monotonic() > deadline:
            raise BenchError(f"{state[0]} events still in the outbox after {DRAIN_TIMEOUT_S}s")
        time.sleep(0.2)
    return state[1]


def relay_throughput(running: Running) -> tuple[float, float]:
    """Events a second the target's relay drains from a backlog of RELAY_BACKLOG (the broker back after
    an outage), and its CPU milliseconds per event."""
    assert running.relay is not None
    before = cpu_ticks({"relay": [running.relay]})["relay"]
    started = time.monotonic()
    with psycopg.connect(libpq(running.target.database_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO outbox (event_id, type, aggregate_type, aggregate_id, occurred_at, body) "
            "SELECT gen_random_uuid()::text, type, aggregate_type, aggregate_id, occurred_at, body "
            "FROM outbox, generate_series(1, %s) WHERE position = (SELECT max(position) FROM outbox)",
            (RELAY_BACKLOG,),
        )
    wait_drained(running.target.database_url)
    elapsed = time.monotonic() - started
    spent = (cpu_ticks({"relay": [running.relay]})["relay"] - before) / CLOCK_TICKS
    return RELAY_BACKLOG / elapsed, spent * 1000 / RELAY_BACKLOG


def libpq(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def wait_ready(service: Service, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the server exited with status {process.returncode}: see {service.log}")
        try:
            call(service, "GET", "/health/ready")
            return
        except (OSError, BenchError):  # not listening yet, or not ready yet (503)
            time.sleep(0.2)
    raise BenchError(f"the server did not answer within {READY_TIMEOUT_S}s: see {service.log}")


def call(service: Service, method: str, path: str, *, token: str = "", body: object = None) -> tuple[Any, HTTPMessage]:
    """One JSON request: (parsed body, response headers); anything but 2xx raises."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    connection = HTTPConnection(HOST, service.port, timeout=30)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        detail = payload[:500].decode(errors="replace")
        raise BenchError(f"{method} {path} answered {response.status}: {detail} (see {service.log})")
    return json.loads(payload), response.headers


def login(service: Service, account: Account) -> str:
    tokens, _ = call(service, "POST", "/api/token/", body={"username": account.username, "password": account.password})
    access: str = tokens["access"]
    return access


def seed(service: Service, manager: Account) -> Seed:
    """A customer, PRODUCTS products and a hot one, through the API (the manager exists already)."""
    customer = Account("bench-customer", secrets.token_urlsafe(16))
    registered, _ = call(
        service, "POST", "/users/", body={"username": customer.username, "password": customer.password}
    )
    token = login(service, manager)

    def product(name: str) -> int:
        created, _ = call(
            service, "POST", "/products/", token=token, body={"name": name, "price": PRICE, "stock": STOCK}
        )
        return int(created["id"])

    catalog = [product(f"Product {number:03d}") for number in range(1, PRODUCTS + 1)]
    hot = product("Hot product")
    if catalog != list(range(catalog[0], catalog[0] + PRODUCTS)):
        raise BenchError("product ids are not consecutive")
    return Seed(customer, int(registered["id"]), manager, catalog[0], catalog[-1], hot)


@contextmanager
def serving(target: Target, workers: int, broker_url: str) -> Iterator[Running]:
    """The target on a fresh, migrated and seeded database, its cache emptied, its relay running.

    Its server runs only while it is measured: the pools of every target's workers at once would
    hold more connections than PostgreSQL's default max_connections (100)."""
    target.logs.mkdir(parents=True, exist_ok=True)
    if target.database_url.startswith("postgresql"):
        fresh_postgres(target.database_url)
    database = {"DATABASE_URL": target.database_url}
    shop_command(target.tree, "migrate", env=database)
    manager = Account("bench-manager", secrets.token_urlsafe(16))
    shop_command(target.tree, "manager", manager.username, env={**database, "SHOP_MANAGER_PASSWORD": manager.password})
    if target.redis_url:
        redis.Redis.from_url(target.redis_url).flushdb()  # the database is new: nothing cached may answer for it
    relay_log = target.logs / "relay.log"
    with running_relay(target.tree, target.database_url, broker_url, relay_log, target.tracing_environment()) as relay:
        with running_service(target, workers) as service:
            print(f"seeding {target.label}", file=sys.stderr)
            seeded = seed(service, manager)
        yield Running(target, workers, relay, seeded)


def scenarios(seed: Seed) -> list[Scenario]:
    first, last, hot, customer = seed.first_product, seed.last_product, seed.hot_product, seed.customer
    order = '{"items": [{"product": {n}, "quantity": 1}]}'
    credentials = json.dumps({"username": customer.username, "password": customer.password})
    return [
        Scenario("liveness (/health/live)", "GET", "/health/live", None),
        Scenario("product detail", "GET", "/products/{n}/", customer, first, last),
        Scenario("product list, 20 a page", "GET", "/products/?page_size=20&page={n}", customer, 1, 10, page_size=20),
        Scenario("product list, 100 a page", "GET", "/products/?page_size=100&page={n}", customer, 1, 2, page_size=100),
        Scenario("order, random product", "POST", "/orders/", customer, first, last, body=order, ceiling="spread"),
        Scenario("order, hot product", "POST", "/orders/", customer, hot, hot, body=order, ceiling="hot"),
        Scenario("own orders, 20 a page", "GET", "/orders/?page_size=20", customer, page_size=20),
        Scenario("login", "POST", "/api/token/", None, body=credentials),
    ]


def settled_size(log: Path) -> int:
    """The log's size once the workers stop writing: requests queued when wrk stopped still get answered."""
    size = -1
    while (current := log.stat().st_size) != size:
        size = current
        time.sleep(0.5)
    return size


def statuses_since(log: Path, offset: int) -> Counter[str]:
    with log.open("rb") as lines:
        lines.seek(offset)
        return Counter(ACCESS_STATUS.findall(lines.read().decode(errors="replace")))


def run_wrk(
    service: Service, running: Running, scenario: Scenario, load: Load, output: Path, watched: Watched
) -> tuple[WrkResult, Counter[str], dict[str, float]]:
    """wrk on one scenario: its result, the statuses the access log tells, and the CPU seconds spent by group."""
    token = login(service, scenario.account) if scenario.account else ""
    offset = settled_size(service.log)
    env = {
        **os.environ,
        "BENCH_METHOD": scenario.method,
        "BENCH_PATH": scenario.path,
        "BENCH_BODY": scenario.body,
        "BENCH_MIN": str(scenario.low),
        "BENCH_MAX": str(scenario.high),
        "BENCH_TOKEN": token,
    }
    command = [
        *("wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{load.seconds}s", "--latency"),
        *("-s", str(BENCH / "wrk" / "request.lua"), f"{service.url}/"),
    ]
    trees = {"service": [service.pid]}
    if watched.redis:
        trees["redis"] = watched.redis
    if running.relay:
        trees["relay"] = [running.relay]
    database = make_url(running.target.database_url).database or ""
    before = cpu_ticks(trees, watched.postmaster, database)
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=load.seconds + 60)
    after = cpu_ticks(trees, watched.postmaster, database)
    output.write_text(completed.stdout + completed.stderr)
    line = next((line for line in completed.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None)
    if completed.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({completed.returncode}) on {scenario.name}: see {output}")
    result = WrkResult(**json.loads(line.removeprefix("BENCH_RESULT ")))
    settled_size(service.log)
    cpu = {name: (after[name] - before[name]) / CLOCK_TICKS for name in after}
    return result, statuses_since(service.log, offset), cpu


def worker_memory(master: int) -> dict[int, tuple[int, int]]:
    """(VmRSS, Pss) in KiB of each child process of the server's master, by pid.

    VmRSS counts the pages a worker shares with the master and its siblings in full; Pss divides
    them among the sharers, so the sum of Pss is the real footprint."""
    memory = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                memory[int(stat.parent.name)] = (
                    kib_field(stat.parent / "status", "VmRSS:"),
                    kib_field(stat.parent / "smaps_rollup", "Pss:"),
                )
        except OSError:
            continue  # the process ended meanwhile
    return dict(sorted(memory.items()))


def kib_field(path: Path, name: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(name):
            return int(line.split()[1])
    raise OSError(f"no {name} in {path}")


def check_consistency(service: Service, manager: Account, events: int | None) -> Consistency:
    """The stock taken from the catalog, against the orders the database holds (each one of quantity 1)
    and the events the broker confirmed."""
    token = login(service, manager)
    taken, page, pages = 0, 1, 1
    while page <= pages:
        catalog, headers = call(service, "GET", f"/products/?page_size=100&page={page}", token=token)
        taken += sum(STOCK - product["stock"] for product in catalog)
        pages = json.loads(headers["X-Pagination"])["total_pages"]
        page += 1
    _, headers = call(service, "GET", "/orders/?page_size=1", token=token)
    return Consistency(stock_taken=taken, orders=json.loads(headers["X-Pagination"])["total"], events=events)


def pgbench_ceilings(database_url: str, seed: Seed, load: Load, logs: Path) -> dict[str, float]:
    """Transactions per second of the order transaction alone, straight on the database, by variant."""
    variants = {"spread": (seed.first_product, seed.last_product), "hot": (seed.hot_product, seed.hot_product)}
    script = generate.write()  # from the service's own statements, as this tree has them
    ceilings = {}
    for name, (first, last) in variants.items():
        command = [
            *("pgbench", "-n", "-M", "prepared", f"-c{load.connections}", f"-j{load.threads}", f"-T{load.seconds}"),
            *("-D", f"customer={seed.customer_id}", "-D", f"first={first}", "-D", f"last={last}"),
            *("-f", str(script), libpq(database_url)),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=load.seconds + 60)
        output = logs / f"pgbench-{name}.txt"
        output.write_text(completed.stdout + completed.stderr)
        tps = PGBENCH_TPS.search(completed.stdout)
        if completed.returncode != 0 or tps is None:
            raise BenchError(f"pgbench failed ({completed.returncode}) on {name}: see {output}")
        ceilings[name] = float(tps[1])
    return ceilings


def git(*arguments: str) -> str:
    completed = subprocess.run(["git", "-C", str(ROOT), *arguments], capture_output=True, text=True)
    if completed.returncode != 0:
        raise BenchError(f"git {' '.join(arguments)}: {completed.stderr.strip()}")
    return completed.stdout.strip()


@contextmanager
def baseline_tree(ref: str) -> Iterator[Tree]:
    """ref checked out in a temporary worktree, with a virtualenv of its own kept in var/bench/venv-<commit>."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    directory = Path(tempfile.mkdtemp(prefix=f"shop-baseline-{commit[:7]}-"))
    git("worktree", "add", "--detach", str(directory), commit)
    try:
        venv = VAR / f"venv-{commit}"
        if not (venv / ".installed").exists():
            print(f"installing {ref} ({commit[:7]}) into {venv.relative_to(ROOT)}", file=sys.stderr)
            shutil.rmtree(venv, ignore_errors=True)
            install = [
                [sys.executable, "-m", "venv", str(venv)],
                *(
                    [[str(venv / "bin" / "python"), "tools/vendor_docs.py"]]
                    if (directory / "tools/vendor_docs.py").exists()
                    else []
                ),
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(directory)],
            ]
            for step in install:
                if subprocess.run(step, cwd=directory).returncode != 0:
                    raise BenchError(f"installing {ref} failed at: {shlex.join(step)}")
            (venv / ".installed").touch()
        yield Tree(f"baseline {commit[:7]}", directory, venv / "bin")
    finally:
        git("worktree", "remove", "--force", str(directory))
        shutil.rmtree(directory, ignore_errors=True)


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    return f"{len(os.sched_getaffinity(0))} CPUs (nproc), {model}"


def command_line() -> str:
    python = Path(sys.executable)
    words = [str(python.relative_to(ROOT) if python.is_relative_to(ROOT) else python), *sys.argv]
    database = os.environ.get("BENCH_DATABASE_URL")
    prefix = f"BENCH_DATABASE_URL={shlex.quote(hidden(database))} " if database else ""
    return prefix + shlex.join(words)


def hidden(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def hidden_amqp(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def ratio(value: float | None, reference: float | None, floor: float = 0.0) -> str:
    """value / reference; n/a when either is unknown or the reference is at most floor (noise)."""
    if value is None or reference is None or reference <= floor:
        return "n/a"
    return f"{value / reference:.2f}x"


def summary_row(summary: Summary, ceilings: dict[str, float]) -> str:
    scenario = summary.runs[0].scenario
    items = f"{summary.per_second * scenario.page_size:,.0f}" if scenario.page_size else ""
    ceiling = ceilings.get(scenario.ceiling) if scenario.ceiling else None
    share = f"{summary.per_second / ceiling:.1%}" if ceiling else ""
    statuses: Counter[str] = sum((run.statuses for run in summary.runs), Counter())
    cells = [
        scenario.name,
        f"{summary.per_second:,.1f}",
        f"{summary.p50_ms:.2f}",
        f"{summary.p99_ms:.2f}",
        str(sum(run.result.non_2xx_3xx for run in summary.runs)),
        str(sum(run.result.socket_errors for run in summary.runs)),
        *(ms(summary.cpu_ms(group)) for group in CPU_GROUPS),
        items,
        share,
        ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())),
    ]
    return "| " + " | ".join(cells) + " |"


SUMMARY_HEAD = [
    "| scenario | req/s | p50 ms | p99 ms | non-2xx/3xx | socket errors | service CPU ms/req "
    "| PostgreSQL CPU ms/req | Redis CPU ms/req | relay CPU ms/req | items/s | of pgbench ceiling "
    "| statuses (access log) |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
]


def ratio_table(summaries: dict[str, Summary], reference: dict[str, Summary]) -> list[str]:
    lines = [
        "| scenario | req/s | p50 | p99 | service CPU/req | PostgreSQL CPU/req | Redis CPU/req |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, summary in summaries.items():
        base = reference[name]
        cells = [
            name,
            ratio(summary.per_second, base.per_second),
            ratio(summary.p50_ms, base.p50_ms),
            ratio(summary.p99_ms, base.p99_ms),
            *(ratio(summary.cpu_ms(group), base.cpu_ms(group), CPU_FLOOR_MS) for group in CPU_GROUPS[:3]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def run_rows(runs: list[Run], targets: Sequence[Target]) -> list[str]:
    lines = [
        "| scenario | target | round | req/s | p99 ms | service CPU ms/req | PostgreSQL CPU ms/req "
        "| PostgreSQL, whole server |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        requests = run.result.requests or 1
        cells = [
            run.scenario.name,
            targets[run.target].label,
            str(run.round + 1),
            f"{run.result.per_second:,.1f}",
            f"{run.result.p99_us / 1000:.2f}",
            *(ms(run.cpu[group] * 1000 / requests if group in run.cpu else None) for group in RUN_GROUPS),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def mean_pss(memory: dict[int, tuple[int, int]]) -> float:
    return statistics.fmean(pss for _rss, pss in memory.values()) / 1024 if memory else 0.0


def report(
    *,
    started: datetime,
    database: str,
    cache: str,
    broker: str,
    workers: int,
    load: Load,
    rounds: int,
    logs: Path,
    targets: Sequence[Target],
    runs: list[Run],
    findings: Findings,
) -> str:
    by_target: list[dict[str, Summary]] = []
    for index in range(len(targets)):
        grouped: dict[str, list[Run]] = defaultdict(list)
        for run in runs:
            if run.target == index:
                grouped[run.scenario.name].append(run)
        by_target.append({name: Summary(group) for name, group in grouped.items()})
    lines = [
        f"# shop benchmark, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {machine()}",
        f"- command: `{command_line()}`",
        f"- database: {database}; cache: {cache}; relay: {broker}",
        f"- service: {workers} workers; load: wrk -t{load.threads} -c{load.connections} -d{load.seconds}s "
        f"per scenario, {rounds} round(s) per target, targets in alternating order",
        "- CPU per request: utime + stime (+ reaped children) from /proc over each wrk run, over the "
        "requests wrk completed: the service's process tree; PostgreSQL's backends of the target's "
        "database, its background processes and the postmaster (the whole server, other databases "
        "included, in the last table); every redis-server; the relay",
        f"- logs: {logs.relative_to(ROOT)}/",
    ]
    for index, target in enumerate(targets):
        log_errors = sum(1 for line in target.log.read_text().splitlines() if LOG_ERROR.search(line))
        memory = findings.memory.get(index, {})
        lines += [
            "",
            f"## {target.label}",
            "",
            f"{target.log.relative_to(ROOT)}: {log_errors} error lines",
            "",
            *SUMMARY_HEAD,
            *(summary_row(summary, findings.ceilings) for summary in by_target[index].values()),
            "",
            "Memory of each worker at the end of its last run, VmRSS / Pss: "
            + ", ".join(f"{rss / 1024:.1f} / {pss / 1024:.1f} MiB" for rss, pss in memory.values()),
            "",
            f"Consistency: {findings.consistency[index]}",
        ]
        if index in findings.relay_rate:
            rate, relay_ms = findings.relay_rate[index]
            lines += [
                "",
                f"Relay (shop relay, publisher confirms, one message at a time): a backlog of {RELAY_BACKLOG:,} "
                f"events drained at {rate:,.0f} events/s, {relay_ms:.2f} ms of the relay's CPU per event",
            ]
    if len(targets) > 1:
        reference = by_target[0]
        for index, target in enumerate(targets[1:], 1):
            pss, base_pss = mean_pss(findings.memory.get(index, {})), mean_pss(findings.memory.get(0, {}))
            lines += [
                "",
                f"## {target.label}, as a ratio to {targets[0].label}",
                "",
                *ratio_table(by_target[index], reference),
                "",
                f"Memory per worker (mean Pss): {pss:.1f} MiB against {base_pss:.1f} MiB, {ratio(pss, base_pss)}",
            ]
        lines += ["", "## Every run", "", *run_rows(runs, targets)]
    if findings.ceilings:
        lines += [
            "",
            f"pgbench ceiling of the order transaction, on the database of {targets[-1].label} "
            f"(bench/pgbench/place_order.sql, -M prepared, -c{load.connections} -j{load.threads} -T{load.seconds}): "
            + ", ".join(f"{name} {tps:,.1f} tps" for name, tps in findings.ceilings.items()),
        ]
    return "\n".join(lines) + "\n"


def measure(
    live: Sequence[Running], load: Load, rounds: int, logs: Path, watched: Watched, findings: Findings
) -> list[Run]:
    """Every scenario against every target, `rounds` times, the targets' order reversed each round.

    Each run starts the target's server, warms it up on the same scenario (workers open their
    connections and import their drivers on first use) and reads its workers' memory at the end."""
    warmup = Load(load.threads, load.connections, WARMUP_S)
    runs = []
    for number in range(len(scenarios(live[0].seed))):
        for round_ in range(rounds):
            order = list(enumerate(live)) if round_ % 2 == 0 else list(enumerate(live))[::-1]
            for index, running in order:
                scenario = scenarios(running.seed)[number]
                print(f"{scenario.name}, {running.target.label}: {load.seconds}s", file=sys.stderr)
                output = logs / f"wrk-{number + 1}-{index + 1}-{round_ + 1}.txt"
                with running.service() as service:
                    run_wrk(service, running, scenario, warmup, output.with_suffix(".warmup.txt"), watched)
                    result, statuses, cpu = run_wrk(service, running, scenario, load, output, watched)
                    findings.memory[index] = worker_memory(service.pid)
                runs.append(Run(index, round_, scenario, result, statuses, cpu))
    return runs


def benchmark(options: argparse.Namespace, started: datetime, logs: Path) -> tuple[str, bool]:
    """Run everything; the Markdown report and whether every consistency check passed."""
    load = Load(threads=options.threads, connections=options.connections, seconds=options.duration)
    base_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    broker_url = "" if options.sqlite else options.broker_url  # the bench's outbox queries are PostgreSQL's
    candidate = Tree("candidate", ROOT, Path(sys.executable).parent)
    with ExitStack() as stack:
        trees = (
            [(stack.enter_context(baseline_tree(options.baseline)), options.baseline_server, "")]
            if options.baseline
            else []
        )
        if options.tracings:
            OTLP_SINK.start()
            stack.callback(OTLP_SINK.stop)
            trees += [(candidate, options.servers[0], setting) for setting in options.tracings]
        else:
            trees += [(candidate, server, "") for server in options.servers]
        targets = []
        for index, (tree, chosen, tracing) in enumerate(trees, 1):
            name = f"{tree.label} {chosen.name}-{chosen.threads} {tracing}".strip()
            directory = logs / f"{index}-{re.sub(r'[^a-z0-9]+', '-', name.lower())}"
            if options.sqlite:
                database_url = f"sqlite:///{directory / 'shop.db'}"
            else:
                database_url = base_url if len(trees) == 1 else numbered(base_url, index)
            redis_url = redis_database(options.redis_url, index - 1)
            targets.append(Target(tree, chosen, database_url, redis_url, directory, tracing))
        rounds = options.rounds or (1 if len(targets) == 1 else 2)
        live = [stack.enter_context(serving(target, options.workers, broker_url)) for target in targets]
        watched = Watched(
            redis=processes_named("redis-server") if options.redis_url else [],
            postmaster=None if options.sqlite else postmaster(base_url),
        )
        findings = Findings()
        runs = measure(live, load, rounds, logs, watched, findings)
        for index, running in enumerate(live):
            events = wait_drained(running.target.database_url) if broker_url else None
            with running.service() as service:
                findings.consistency[index] = check_consistency(service, running.seed.manager, events)
            print(f"consistency of {running.target.label}: {findings.consistency[index]}", file=sys.stderr)
        if broker_url:
            for index, running in enumerate(live):
                findings.relay_rate[index] = relay_throughput(running)
        if not options.sqlite:
            findings.ceilings = pgbench_ceilings(targets[-1].database_url, live[-1].seed, load, logs)
    text = report(
        started=started,
        database="SQLite, a file per target" if options.sqlite else f"PostgreSQL, {hidden(base_url)}",
        cache=f"Redis, {options.redis_url} and on" if options.redis_url else "none",
        broker=f"shop relay to {hidden_amqp(broker_url)}" if broker_url else "none",
        workers=options.workers,
        load=load,
        rounds=rounds,
        logs=logs,
        targets=targets,
        runs=runs,
        findings=findings,
    )
    if options.tracings:
        text += (
            f"\nThe OTLP receiver got {OTLP_SINK.exports} exports, {OTLP_SINK.bytes / 1e6:.1f} MB of spans "
            "(the relay's included).\n"
        )
    return text, all(consistency.ok for consistency in findings.consistency.values())


def stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwinds like Ctrl-C, so the services are stopped too


def main() -> int:
    options = parse_args()
    missing = missing_tools(postgres=not options.sqlite)
    for tool in missing:
        print(f"{tool} is not installed: {INSTALL_HINTS[tool]}", file=sys.stderr)
    if missing:
        return 2
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    started = datetime.now(UTC)
    stamp = f"{started:%Y%m%dT%H%M%SZ}"
    logs = VAR / stamp
    logs.mkdir(parents=True)
    try:
        text, consistent = benchmark(options, started, logs)
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted: the services are stopped", file=sys.stderr)
        return 130
    (VAR / f"results-{stamp}.md").write_text(text)
    (VAR / "latest.md").write_text(text)
    print(text)
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
