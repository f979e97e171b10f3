"""`make bench BENCH_REPLICA=1`: the read scenarios against a primary alone, then with a streaming replica.

    .venv/bin/python bench/replica.py [--duration 10s] [--workers 2] [--connections 16]

A PostgreSQL primary of its own (initdb into a temporary directory, its own port) and a streaming
replica of it (pg_basebackup -R, its own port), both from tests/servers.py; `shop migrate`, a
catalog of 200 products and a customer with 20 orders. Then, for each read scenario, the service
(gunicorn, as production) once on the primary alone and once with DATABASE_REPLICA_URLS naming the
replica. Around each wrk run: the primary's CPU (its whole process tree, from /proc) and the
statements each server ran (pg_stat_database.xact_commit of the shop database: the reader runs
each statement as its own transaction; on the replica that includes the ping at every checkout and
the WAL position read after a signed-in user's read).

Two configurations, each a table:
- no Redis: every read reaches a database, and the token's standing, which guards access, is read
  on the primary for every request (the floors of read-your-writes are kept per worker);
- Redis (--redis-url, emptied), every page a miss: the token's standing comes from the shared
  cache, as in production, and a thread of this script bumps the version counters of the pages the
  scenario reads, as a stream of writes would, so that nearly every page is read from a database.
  That is the case the replica is for: pages on a cache miss.

Prints Markdown tables and writes them to var/bench/replica-latest.md. Run it under
`flock /tmp/shop-tests.lock`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.request import Request, urlopen

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import PostgresServer, wait_until  # noqa: E402

from shop.adapters.redis.versioned import redis_client  # noqa: E402
from shop.adapters.redis.views import RedisViewCache  # noqa: E402

BIN = ROOT / ".venv" / "bin"
VAR = ROOT / "var" / "bench"
TICKS = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"  # the tests use 0, 3 and 4; bench/run.py 8 and on


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def tree_ticks(root: int) -> int:
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(value) for value in fields[11:15])

    def total(pid: int) -> int:
        return ticks.get(pid, 0) + sum(total(child) for child in children.get(pid, ()))

    return total(root)


def postmaster_pid(server: PostgresServer) -> int:
    return int((server.data / "postmaster.pid").read_text().split()[0])


def queries(server: PostgresServer) -> int:
    [(count,)] = server.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = 'shop'")
    return int(count)


def call(port: int, method: str, path: str, body: object = None, token: str = "") -> object:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = None if body is None else json.dumps(body).encode()
    with urlopen(Request(f"http://{HOST}:{port}{path}", data=data, method=method, headers=headers), timeout=10) as r:
        return json.loads(r.read() or b"null")


class Service:
    def __init__(self, database_url: str, replicas: str, workers: int, log: Path, redis_url: str = "") -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "HOST": HOST,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "DATABASE_URL": database_url,
            "DATABASE_REPLICA_URLS": replicas,
            "SHOP_ENV": "production",
            "TRUSTED_HOSTS": HOST,
            "METRICS_PUBLIC": "true",
            "JWT_SECRET_KEY": "bench-" + "k" * 40,
            "SHOP_VAR_DIR": str(log.parent),
            "RATELIMIT_ENABLED": "false",
            "REDIS_URL": redis_url,
        }
        out = log.open("ab")
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                "python:shop.entrypoints.gunicorn_conf",
                "shop.entrypoints.app:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                call(self.port, "GET", "/health/ready")
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit(f"the service did not start: see {log}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def wrk(port: int, path: str, token: str, duration: str, connections: int, low: int, high: int) -> int:
    env = {
        **os.environ,
        "BENCH_METHOD": "GET",
        "BENCH_PATH": path,
        "BENCH_MIN": str(low),
        "BENCH_MAX": str(high),
        "BENCH_TOKEN": token,
        "BENCH_BODY": "",
    }
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}",
            "-s",
            str(ROOT / "bench/wrk/request.lua"),
            f"http://{HOST}:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_RESULT "))
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    if failed := int(result["non_2xx_3xx"]) + int(result["socket_errors"]):
        raise SystemExit(f"{path}: {failed} of {result['requests']} requests failed: see var/bench/replica-service.log")
    return int(result["requests"])


def settle(primary: PostgresServer, replica: PostgresServer) -> None:
    """Vacuum what the seeding wrote and wait for the replica to replay it all. Otherwise autovacuum
    writes WAL in the middle of a run: a signed-in user's read on the primary then raises their floor
    past what the replica has (pg_current_wal_insert_lsn counts WAL not yet flushed), and with one
    customer making every request, that one floor keeps the reads on the primary for a while."""
    primary.execute("VACUUM ANALYZE", database="shop")
    primary.execute("CHECKPOINT")
    [(target,)] = primary.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")

    def caught_up() -> bool:
        [(replayed,)] = replica.execute("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
        return bool(replayed >= target)

    wait_until(caught_up, 30, "the replica replays the seeding", replica.tail)


@contextmanager
def missing(redis_url: str, products: list[int], orders_of: int | None = None) -> Iterator[None]:
    """Until the block ends, invalidate these pages over and over, as the service does after a write:
    each is stale almost as soon as it is cached, while the tokens' standing (versioned per user) stays."""
    if not redis_url:
        yield
        return
    cache = RedisViewCache(redis_client(redis_url), ttl_seconds=60)
    done = threading.Event()

    def bump() -> None:
        while not done.is_set():
            cache.invalidate(products, orders_of=orders_of)
            time.sleep(0.001)

    thread = threading.Thread(target=bump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    options = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    log = VAR / "replica-service.log"
    primary = PostgresServer.initdb("bench-primary").start()
    replica = None
    try:
        primary.execute("CREATE DATABASE shop")
        replica = primary.replica("bench-replica")
        url, replica_url = primary.url("shop"), replica.url("shop")
        subprocess.run([str(BIN / "shop"), "migrate"], env={**os.environ, "DATABASE_URL": url}, check=True)
        password = secrets.token_urlsafe(12)
        subprocess.run(
            [str(BIN / "shop"), "manager", "boss"],
            input=f"{password}\n{password}\n",
            text=True,
            env={**os.environ, "DATABASE_URL": url, "SHOP_MANAGER_PASSWORD": password},
            check=True,
        )
        seeding = Service(url, "", options.workers, log)
        try:
            boss = call(seeding.port, "POST", "/api/token/", {"username": "boss", "password": password})["access"]  # type: ignore[index]
            for n in range(200):
                call(seeding.port, "POST", "/products/", {"name": f"p{n}", "price": "10.00", "stock": 1000}, boss)
            call(seeding.port, "POST", "/users/", {"username": "carol", "password": password})
            carol = call(seeding.port, "POST", "/api/token/", {"username": "carol", "password": password})["access"]  # type: ignore[index]
            carol_id = call(seeding.port, "GET", "/users/me/", token=carol)["id"]  # type: ignore[index]
            for n in range(20):
                call(seeding.port, "POST", "/orders/", {"items": [{"product": n + 1, "quantity": 1}]}, carol)
        finally:
            seeding.stop()
        settle(primary, replica)
        scenarios = [
            # name, path, {n} from low to high, and what to invalidate: products (and the catalog), whose orders
            ("product detail (customer)", "/products/{n}/", 1, 200, list(range(1, 201)), None),
            ("product list, 20 a page (customer)", "/products/?page_size=20&page={n}", 1, 10, [1], None),
            ("own orders, 20 a page (customer)", "/orders/?page_size=20", 1, 1, [], carol_id),
        ]
        tables = []
        for cache, redis_url in (("no Redis", ""), ("Redis, every page a miss", options.redis_url)):
            rows = []
            for name, path, low, high, products, orders_of in scenarios:
                measured = {}
                for label, replicas in (("primary alone", ""), ("with replica", replica_url)):
                    if redis_url:
                        redis.Redis.from_url(redis_url).flushdb()
                    service = Service(url, replicas, options.workers, log, redis_url)
                    try:
                        with missing(redis_url, products, orders_of):
                            wrk(service.port, path, carol, "2s", options.connections, low, high)  # warm up
                            ticks, on_primary, on_replica = (
                                tree_ticks(postmaster_pid(primary)),
                                queries(primary),
                                queries(replica),
                            )
                            done = wrk(service.port, path, carol, options.duration, options.connections, low, high)
                            ticks = tree_ticks(postmaster_pid(primary)) - ticks
                            on_primary, on_replica = queries(primary) - on_primary, queries(replica) - on_replica
                    finally:
                        service.stop()
                    measured[label] = (done, ticks * 1000 / TICKS / done, on_primary, on_replica)
                alone, routed = measured["primary alone"], measured["with replica"]
                share = routed[3] / (routed[2] + routed[3]) if routed[2] + routed[3] else 0.0
                rows.append(
                    f"| {name} | {alone[0]} / {routed[0]} | {alone[2]} | {alone[1]:.3f} | {routed[1]:.3f} | "
                    f"{routed[1] / alone[1]:.0%} | {routed[2]} / {routed[3]} | {share:.0%} |"
                )
            tables += [
                f"Read scenarios, {options.duration} each, {options.workers} workers, "
                f"{options.connections} connections, {cache}.",
                "",
                "| scenario | requests (alone / with replica) | statements on the primary alone "
                "| primary CPU ms per request, alone | with replica | ratio "
                "| statements with replica (primary / replica) | replica's share |",
                "|---|---|---|---|---|---|---|---|",
                *rows,
                "",
            ]
        text = "\n".join(tables).rstrip()
        (VAR / "replica-latest.md").write_text(text + "\n")
        print(text)
        return 0
    finally:
        if replica is not None:
            replica.remove()
        primary.remove()


if __name__ == "__main__":
    sys.exit(main())
