"""Load-test the service as production runs it (gunicorn, gthread workers) with wrk, on a fresh database.

    .venv/bin/python bench/run.py [--sqlite] [--workers N] [--duration 10s] [--connections 16] [--threads 2]

Seeds a catalog, starts `shop relay` publishing to RabbitMQ (BENCH_BROKER_URL, --broker-url "" for none),
drives one wrk scenario after another, reads the workers' memory, checks through the API that the stock
taken equals the orders recorded and that every order's event was confirmed by the broker, measures how
fast the relay drains a backlog, then (PostgreSQL) measures with pgbench the ceiling of the order
transaction alone. The report goes to var/bench/results-<UTC time>.md and var/bench/latest.md;
the service log and the raw wrk and pgbench outputs to var/bench/<UTC time>/.

Exit status: 0; 1 when the consistency check fails; 2 when wrk or pgbench is missing; 3 when a step
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
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPMessage
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from shop.adapters.redis import versioned as cache
from shop.adapters.redis.versioned import redis_client
from shop.adapters.sql.migrations import upgrade
from shop.application.actors import Actor
from shop.container import Container
from shop.domain.users import Role
from shop.entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VAR = ROOT / "var" / "bench"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/shop_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
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
INSTALL_HINTS = {
    "wrk": "apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)",
    "pgbench": "apt-get install postgresql-client (Debian/Ubuntu), or run with --sqlite",
}
ACCESS_STATUS = re.compile(r'"logger":"shop\.access".*?"status":(\d{3})')
LOG_ERROR = re.compile(r'"level":"(ERROR|CRITICAL)"|Traceback \(most recent call last\)')
PGBENCH_TPS = re.compile(r"tps = ([\d.]+) \(without initial connection time\)")


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
    user_id: int


@dataclass(frozen=True)
class Seed:
    customer: Account
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
class Outcome:
    scenario: Scenario
    result: WrkResult
    statuses: Counter[str]  # as the service's access log tells them


@dataclass(frozen=True)
class Service:
    port: int
    pid: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


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


def duration(text: str) -> int:
    """Seconds of a wrk-style duration: 10, 10s, 2m, 1h."""
    match = re.fullmatch(r"(\d+)([smh]?)", text.strip())
    if match is None or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (examples: 10s, 2m)")
    return int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", action="store_true", help="a fresh SQLite file instead of BENCH_DATABASE_URL")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads per gunicorn worker (WEB_THREADS)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (WORKER_CLASS)")
    parser.add_argument("--duration", type=duration, default=10, help="of each scenario, as wrk takes it")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections, pgbench clients")
    parser.add_argument("--threads", type=int, default=2, help="wrk and pgbench threads")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="the shared catalog cache (REDIS_URL); an empty string runs without it",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL),
        help="RabbitMQ for the relay running beside the service (BROKER_URL); an empty string runs without it",
    )
    return parser.parse_args()


def missing_tools(postgres: bool) -> list[str]:
    needed = ["wrk", "pgbench"] if postgres else ["wrk"]
    return [tool for tool in needed if shutil.which(tool) is None]


def fresh_postgres(url: str) -> None:
    """Drop and create the database of url, from the server's maintenance database."""
    parsed = make_url(url)
    maintenance = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        name = sql.Identifier(parsed.database or "")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def seed(database_url: str) -> Seed:
    """A customer, a manager, PRODUCTS products and a hot one, through the application's use cases."""
    container = Container()
    container.config.from_dict(asdict(Settings(database_url=database_url, jwt_secret_key=secrets.token_hex(32))))
    customer_password, manager_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    customer = container.register_user(actor=None, username="bench-customer", password=customer_password)
    manager, _ = container.make_manager(username="bench-manager", password=manager_password)
    assert customer.id is not None
    assert manager.id is not None
    actor = Actor(manager.id, Role.MANAGER)

    def product(name: str) -> int:
        created = container.create_product(actor=actor, name=name, price=PRICE, stock=STOCK)
        assert created.id is not None
        return created.id

    catalog = [product(f"Product {number:03d}") for number in range(1, PRODUCTS + 1)]
    hot = product("Hot product")
    container.engine().dispose()
    assert catalog == list(range(catalog[0], catalog[0] + PRODUCTS)), "product ids are not consecutive"
    return Seed(
        customer=Account(customer.username, customer_password, customer.id),
        manager=Account(manager.username, manager_password, manager.id),
        first_product=catalog[0],
        last_product=catalog[-1],
        hot_product=hot,
    )


def forget_cached_catalog(redis_url: str) -> None:
    """The database is new: entries cached from an earlier run must not answer for it."""
    client = redis_client(redis_url)
    for key in client.scan_iter(f"{cache.PREFIX}*"):
        client.delete(key)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_service(
    database_url: str, redis_url: str, workers: int, log: Path, threads: int = 8, worker_class: str = "gthread"
) -> Iterator[Service]:
    """gunicorn as production starts it; stopped on the way out, whatever happened."""
    port = free_port()
    env = {
        **os.environ,
        "HOST": HOST,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "WEB_THREADS": str(threads),
        "WORKER_CLASS": worker_class,
        "DATABASE_URL": database_url,
        "SHOP_ENV": "production",
        "TRUSTED_HOSTS": HOST,
        "METRICS_PUBLIC": "true",  # the bench scrapes nothing; the port is this machine's
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "SHOP_VAR_DIR": str(VAR),
        "RATELIMIT_ENABLED": "false",
        "REDIS_URL": redis_url,
        "GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1"),
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [str(gunicorn), "--config", "python:shop.entrypoints.gunicorn_conf", "shop.entrypoints.app:create_app()"]
    with log.open("ab") as out:
        # A session of its own: Ctrl-C reaches this script, which then stops gunicorn gracefully.
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        service = Service(port, process.pid, log)
        wait_ready(service, process)
        yield service
    finally:
        stop(process)


@contextmanager
def running_relay(database_url: str, broker_url: str, log: Path) -> Iterator[int | None]:
    """`shop relay` beside the service, as production runs it; yields its probes' port (None: no broker)."""
    if not broker_url:
        yield None
        return
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "BROKER_URL": broker_url, "RELAY_PORT": str(port)}
    shop = Path(sys.executable).parent / "shop"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(shop), "relay"], cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not probe_ok(port, "/health/ready"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the relay did not get ready: see {log}")
            time.sleep(0.2)
        yield port
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL after STOP_TIMEOUT_S: a graceful stop, bounded."""
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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


def relay_throughput(database_url: str, broker_url: str, log: Path) -> float:
    """Events a second the relay drains from a backlog of RELAY_BACKLOG (the broker back after an outage)."""
    with psycopg.connect(libpq(database_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO outbox (event_id, type, aggregate_type, aggregate_id, occurred_at, body) "
            "SELECT gen_random_uuid()::text, type, aggregate_type, aggregate_id, occurred_at, body "
            "FROM outbox, generate_series(1, %s) WHERE position = (SELECT max(position) FROM outbox)",
            (RELAY_BACKLOG,),
        )
    started = time.monotonic()
    with running_relay(database_url, broker_url, log):
        wait_drained(database_url)
    return RELAY_BACKLOG / (time.monotonic() - started)


def libpq(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def wait_ready(service: Service, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with status {process.returncode}: see {service.log}")
        try:
            call(service, "GET", "/health/ready")
            return
        except (OSError, BenchError):  # not listening yet, or not ready yet (503)
            time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer within {READY_TIMEOUT_S}s: see {service.log}")


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


def scenarios(seed: Seed) -> list[Scenario]:
    first, last, hot, customer = seed.first_product, seed.last_product, seed.hot_product, seed.customer
    order = '{"items": [{"product": {n}, "quantity": 1}]}'
    credentials = json.dumps({"username": customer.username, "password": customer.password})
    return [
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


def run_wrk(service: Service, scenario: Scenario, load: Load, output: Path) -> Outcome:
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
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=load.seconds + 60)
    output.write_text(completed.stdout + completed.stderr)
    line = next((line for line in completed.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None)
    if completed.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({completed.returncode}) on {scenario.name}: see {output}")
    result = WrkResult(**json.loads(line.removeprefix("BENCH_RESULT ")))
    settled_size(service.log)
    return Outcome(scenario, result, statuses_since(service.log, offset))


def worker_memory(master: int) -> dict[int, tuple[int, int]]:
    """(VmRSS, Pss) in KiB of each child process of the gunicorn master, by pid.

    VmRSS counts the pages a worker shares with the master and its siblings in full; Pss divides
    them among the sharers, so the sum of Pss is the real footprint."""
    memory = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == master:
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
    ceilings = {}
    for name, (first, last) in variants.items():
        command = [
            *("pgbench", "-n", "-M", "prepared", f"-c{load.connections}", f"-j{load.threads}", f"-T{load.seconds}"),
            *("-D", f"customer={seed.customer.user_id}", "-D", f"first={first}", "-D", f"last={last}"),
            *("-f", str(BENCH / "pgbench" / "place_order.sql"), libpq(database_url)),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=load.seconds + 60)
        output = logs / f"pgbench-{name}.txt"
        output.write_text(completed.stdout + completed.stderr)
        tps = PGBENCH_TPS.search(completed.stdout)
        if completed.returncode != 0 or tps is None:
            raise BenchError(f"pgbench failed ({completed.returncode}) on {name}: see {output}")
        ceilings[name] = float(tps[1])
    return ceilings


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


def outcome_row(outcome: Outcome, ceilings: dict[str, float]) -> str:
    result, scenario = outcome.result, outcome.scenario
    items = f"{result.per_second * scenario.page_size:,.0f}" if scenario.page_size else ""
    ceiling = ceilings.get(scenario.ceiling) if scenario.ceiling else None
    share = f"{result.per_second / ceiling:.1%}" if ceiling else ""
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(outcome.statuses.items()))
    cells = [
        scenario.name,
        f"{result.per_second:,.1f}",
        f"{result.p50_us / 1000:.2f}",
        f"{result.p99_us / 1000:.2f}",
        str(result.non_2xx_3xx),
        str(result.socket_errors),
        items,
        share,
        statuses,
    ]
    return "| " + " | ".join(cells) + " |"


def report(
    *,
    started: datetime,
    database: str,
    cache: str,
    broker: str,
    workers: int,
    service_kind: str,
    load: Load,
    logs: Path,
    outcomes: list[Outcome],
    memory: dict[int, tuple[int, int]],
    consistency: Consistency,
    ceilings: dict[str, float],
    relay_rate: float | None,
) -> str:
    log_errors = sum(1 for line in (logs / "gunicorn.log").read_text().splitlines() if LOG_ERROR.search(line))
    lines = [
        f"# shop benchmark, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {machine()}",
        f"- command: `{command_line()}`",
        f"- database: {database}; catalog cache: {cache}; relay: {broker}",
        f"- service: gunicorn, {workers} {service_kind} workers; "
        f"load: wrk -t{load.threads} -c{load.connections} -d{load.seconds}s per scenario",
        f"- logs: {logs.relative_to(ROOT)}/ (gunicorn.log: {log_errors} error lines)",
        "",
        "| scenario | req/s | p50 ms | p99 ms | non-2xx/3xx | socket errors | items/s "
        "| of pgbench ceiling | statuses (access log) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
        *(outcome_row(outcome, ceilings) for outcome in outcomes),
        "",
        "Memory of each gunicorn worker after the runs, VmRSS / Pss: "
        + ", ".join(f"{rss / 1024:.1f} / {pss / 1024:.1f} MiB" for rss, pss in memory.values()),
        "",
        f"Consistency: {consistency}",
    ]
    if relay_rate is not None:
        lines += [
            "",
            f"Relay (shop relay, publisher confirms, one message at a time): a backlog of {RELAY_BACKLOG:,} "
            f"events drained at {relay_rate:,.0f} events/s",
        ]
    if ceilings:
        lines += [
            "",
            f"pgbench ceiling of the order transaction (bench/pgbench/place_order.sql, -M prepared, "
            f"-c{load.connections} -j{load.threads} -T{load.seconds}): "
            + ", ".join(f"{name} {tps:,.1f} tps" for name, tps in ceilings.items()),
        ]
    return "\n".join(lines) + "\n"


def benchmark(options: argparse.Namespace, started: datetime, logs: Path) -> tuple[str, bool]:
    """Run everything; the Markdown report and whether the consistency check passed."""
    load = Load(threads=options.threads, connections=options.connections, seconds=options.duration)
    if options.sqlite:
        database_url = f"sqlite:///{logs / 'shop.db'}"
        database = f"SQLite, {(logs / 'shop.db').relative_to(ROOT)}"
    else:
        database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
        fresh_postgres(database_url)
        database = f"PostgreSQL, {hidden(database_url)}"
    upgrade(database_url)
    print("seeding", file=sys.stderr)
    seeded = seed(database_url)
    outcomes = []
    if options.redis_url:
        forget_cached_catalog(options.redis_url)
    broker_url = "" if options.sqlite else options.broker_url  # the bench's outbox queries are PostgreSQL's
    with (
        running_service(
            database_url,
            options.redis_url,
            options.workers,
            logs / "gunicorn.log",
            threads=options.web_threads,
            worker_class=options.worker_class,
        ) as service,
        running_relay(database_url, broker_url, logs / "relay.log"),
    ):
        plan = scenarios(seeded)
        # Workers open their connections and import their drivers on first use: not part of any scenario.
        run_wrk(service, plan[0], Load(load.threads, load.connections, WARMUP_S), logs / "wrk-warmup.txt")
        for number, scenario in enumerate(plan, 1):
            print(f"{scenario.name}: {load.seconds}s", file=sys.stderr)
            outcomes.append(run_wrk(service, scenario, load, logs / f"wrk-{number}.txt"))
        memory = worker_memory(service.pid)
        events = wait_drained(database_url) if broker_url else None
        consistency = check_consistency(service, seeded.manager, events)
    print(f"consistency: {consistency}", file=sys.stderr)
    relay_rate = relay_throughput(database_url, broker_url, logs / "relay.log") if broker_url else None
    ceilings = {} if options.sqlite else pgbench_ceilings(database_url, seeded, load, logs)
    text = report(
        started=started,
        database=database,
        cache=f"Redis, {options.redis_url}" if options.redis_url else "none",
        broker=f"shop relay to {hidden_amqp(broker_url)}" if broker_url else "none",
        workers=options.workers,
        service_kind=f"{options.worker_class} ({options.web_threads} threads)"
        if options.worker_class == "gthread"
        else options.worker_class,
        load=load,
        logs=logs,
        outcomes=outcomes,
        memory=memory,
        consistency=consistency,
        ceilings=ceilings,
        relay_rate=relay_rate,
    )
    return text, consistency.ok


def stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwinds like Ctrl-C, so the service is stopped too


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
        print("interrupted: the service is stopped", file=sys.stderr)
        return 130
    (VAR / f"results-{stamp}.md").write_text(text)
    (VAR / "latest.md").write_text(text)
    print(text)
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
