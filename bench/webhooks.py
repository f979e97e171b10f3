"""Webhook deliveries per second: a real `shop webhooks` sending N events from the outbox to a local
receiver that answers 200 at once, on a fresh database.

    .venv/bin/python bench/webhooks.py [--sqlite] [--events 5000] [--endpoints 1] [--concurrency 16]

BENCH_DATABASE_URL names the PostgreSQL server (the database shop_bench_webhooks on it is dropped and
made again); --sqlite uses a fresh file instead. Prints the deliveries per second and writes them to
var/bench/webhooks-latest.md. Exit status: 0; 1 when not every delivery arrived in time.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from shop.adapters.sealing import AesGcmSealer
from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.migrations import upgrade
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.messages import Message
from shop.domain.webhooks import Secret, WebhookEndpoint

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DEFAULT_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/shop_bench_webhooks"
TIMEOUT_S = 300


class Receiver:
    """Answers 200 at once to every POST; counts them."""

    def __init__(self) -> None:
        self.count = 0
        self.done = threading.Event()
        self.expected = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # the name http.server calls
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with lock:
                    receiver.count += 1
                    if receiver.count >= receiver.expected:
                        receiver.done.set()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def fresh_database(sqlite: bool, folder: Path) -> str:
    if sqlite:
        return f"sqlite:///{folder / 'bench.db'}"
    url = make_url(os.environ.get("BENCH_DATABASE_URL") or DEFAULT_SERVER_URL).set(database="shop_bench_webhooks")
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        name = sql.Identifier("shop_bench_webhooks")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return url.render_as_string(hide_password=False)


def seed(url: str, key: str, receiver: Receiver, events: int, endpoints: int) -> None:
    engine = make_engine(url)
    sealer = AesGcmSealer(key)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    with SqlUnitOfWork(engine, sealer=sealer) as uow:
        for _ in range(endpoints):
            endpoint = WebhookEndpoint(
                url=receiver.url, event_types=("order.*",), secret=Secret(secrets.token_bytes(32)), created_at=long_ago
            )
            uow.webhooks.add(endpoint)
        now = datetime.now(UTC)
        uow.outbox.add([Message("order.placed", "order", n, now, {"id": n}) for n in range(events)])
        uow.commit()
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="a fresh SQLite file instead of PostgreSQL")
    parser.add_argument("--events", type=int, default=5000, help="events put in the outbox at once")
    parser.add_argument("--endpoints", type=int, default=1, help="endpoints, each subscribed to every event")
    parser.add_argument("--concurrency", type=int, default=16, help="WEBHOOK_CONCURRENCY of the deliverer")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database(args.sqlite, Path(folder))
        upgrade(url)
        key = secrets.token_urlsafe(36)
        receiver = Receiver()
        receiver.expected = args.events * args.endpoints
        seed(url, key, receiver, args.events, args.endpoints)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "WEBHOOK_SECRET_KEY": key,
            "WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
            "WEBHOOK_CONCURRENCY": str(args.concurrency),
            "WEBHOOKS_PORT": str(free_port()),
            "SHOP_VAR_DIR": folder,
            "LOG_LEVEL": "WARNING",
        }
        log = Path(folder) / "webhooks.log"
        with log.open("wb") as out:
            started = time.monotonic()
            deliverer = subprocess.Popen(
                [str(Path(sys.executable).with_name("shop")), "webhooks"], env=env, stdout=out, stderr=out
            )
            try:
                arrived = receiver.done.wait(TIMEOUT_S)
                elapsed = time.monotonic() - started
            finally:
                deliverer.terminate()
                deliverer.wait(30)
        receiver.server.shutdown()
        if not arrived:
            print(f"only {receiver.count} of {receiver.expected} deliveries arrived in {TIMEOUT_S}s", file=sys.stderr)
            print(log.read_text()[-3000:], file=sys.stderr)
            return 1
    rate = receiver.expected / elapsed
    database = "SQLite" if args.sqlite else "PostgreSQL"
    line = (
        f"{receiver.expected} webhook deliveries ({args.events} events x {args.endpoints} endpoints, "
        f"concurrency {args.concurrency}, {database}) in {elapsed:.2f} s: {rate:,.0f} deliveries/s "
        "(the deliverer's start included)"
    )
    print(line)
    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "webhooks-latest.md").write_text(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {line}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
