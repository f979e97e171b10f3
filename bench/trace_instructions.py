"""What tracing costs a request, counted in CPU instructions (valgrind's callgrind), not in seconds.

    .venv/bin/python bench/trace_instructions.py [--tracing off,0.1,1] [--requests 500] [--path product]

On a shared 2-CPU machine the CPU time of one request moves 20-40% between identical runs, more than
the 15% tracing may cost at 10% sampling (issue 21); the number of instructions the process runs does
not. For each tracing setting the script runs, under `valgrind --tool=callgrind`, the app in process
(flask's test client: no HTTP server, the same app, hooks and instrumentations) serving an
authenticated, cached `GET /products/<id>/` (--path product), a page of 20 products (--path list) or
`POST /orders/` of one of 20 products in turn (--path order; its outbox rows stay, no relay runs)
on PostgreSQL (BENCH_DATABASE_URL's server, a database of its own) and Redis (--redis-url); twice, for
50 warm-up requests and for 50 + --requests, and gives the difference per request. A tracing setting is
`off` (no OTEL_* endpoint) or the share of traces sampled (parentbased_traceidratio); spans are batched
as in production and handed to an exporter that drops them (what the OTLP exporter's encoding costs is
not counted: a collector's client would pay it the same in any design). Trace ids are drawn from a seeded
random generator, so a run samples the same requests every time.

Needs valgrind (`apt-get install valgrind`). Exit status 2 without it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 50
PATHS = {"product": "/products/{id}/", "list": "/products/?page=1&page_size=20", "order": "/orders/"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracing", default="off,0.1,1", help="settings: off, or a share of traces sampled")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--path", choices=sorted(PATHS), default="product")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_trace"),
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a JSON seed: serve the requests, in this process
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


def environment(args: argparse.Namespace, setting: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, JWT_SECRET_KEY="b" * 48, LOG_LEVEL="WARNING")
    if setting != "off":
        # An endpoint switches tracing on; the child replaces the exporter with one that drops the spans.
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
            OTEL_TRACES_SAMPLER="parentbased_traceidratio",
            OTEL_TRACES_SAMPLER_ARG=setting,
        )
    return env


def seed(args: argparse.Namespace) -> dict[str, Any]:
    """A fresh, migrated database with a manager, a customer and 20 products; the customer's token."""
    sys.path.insert(0, str(ROOT))
    from bench.run import fresh_postgres

    fresh_postgres(args.database_url)
    env = environment(args, "off")
    shop = str(Path(sys.executable).with_name("shop"))
    subprocess.run([shop, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [shop, "manager", "bench-manager"], env={**env, "SHOP_MANAGER_PASSWORD": "bench-manager-pw"}, check=True
    )
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    os.environ.update(env)
    from shop.entrypoints.app import create_app

    client = create_app().test_client()
    manager = client.post("/api/token/", json={"username": "bench-manager", "password": "bench-manager-pw"})
    headers = {"Authorization": f"Bearer {manager.get_json()['access']}"}
    products = [{"name": f"P{n:02d}", "price": "9.90", "stock": 10_000} for n in range(20)]
    ids = [client.post("/products/", json=product, headers=headers).get_json()["id"] for product in products]
    client.post("/users/", json={"username": "bench-customer", "password": "bench-customer-pw"})
    customer = client.post("/api/token/", json={"username": "bench-customer", "password": "bench-customer-pw"})
    return {"token": customer.get_json()["access"], "product": ids[0], "products": ids}


def serve(args: argparse.Namespace) -> None:
    """The child: the app in this process, `--count` requests of the path."""
    random.seed(20261204)  # the SDK's ids come from `random`: the same requests are sampled every run
    given = json.loads(args.child)
    servers = [0]  # server spans exported: the requests sampled
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
        from opentelemetry.trace import SpanKind

        from shop.entrypoints import tracing

        class Dropped(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                servers[0] += sum(1 for span in spans if span.kind is SpanKind.SERVER)
                return SpanExportResult.SUCCESS

        tracing._otlp_exporter = Dropped  # batched as in production, then dropped
    from shop.entrypoints.app import create_app

    client = create_app().test_client()
    path = PATHS[args.path].format(id=given["product"])
    headers = {"Authorization": f"Bearer {given['token']}"}
    for number in range(args.count):
        if args.path == "order":
            item = {"product": given["products"][number % len(given["products"])], "quantity": 1}
            response = client.post(path, json={"items": [item]}, headers=headers)
        else:
            response = client.get(path, headers=headers)
        if response.status_code not in (200, 201):
            raise SystemExit(f"{path}: {response.status_code} {response.get_data(as_text=True)[:200]}")
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        flush()
    print(json.dumps({"sampled": servers[0]}))


def instructions(args: argparse.Namespace, setting: str, given: dict[str, Any], count: int) -> tuple[int, int]:
    """The instructions the child ran, and how many of its requests were sampled."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
            sys.executable, __file__, "--child", json.dumps(given), "--count", str(count), "--path", args.path,
        ]  # fmt: skip
        done = subprocess.run(command, env=environment(args, setting), check=True, capture_output=True, cwd=ROOT)
        totals = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        if totals is None:
            raise SystemExit(f"no total in {out}")
        return int(totals.group(1)), json.loads(done.stdout.decode().strip().splitlines()[-1])["sampled"]


def main() -> int:
    args = parse_args()
    if args.child:
        serve(args)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is missing: apt-get install valgrind", file=sys.stderr)
        return 2
    given = seed(args)
    settings = [s.strip() for s in args.tracing.split(",") if s.strip()]
    print(f"{args.path}: {PATHS[args.path]}, {args.requests} requests counted, callgrind instructions per request")
    print("| tracing | requests sampled | instructions per request | vs first |")
    print("|---|--:|--:|--:|")
    first = None
    for setting in settings:
        warm, warm_sampled = instructions(args, setting, given, WARM_UP)
        full, full_sampled = instructions(args, setting, given, WARM_UP + args.requests)
        per_request = (full - warm) / args.requests
        first = first or per_request
        label = "off" if setting == "off" else f"{float(setting):.0%}"
        sampled = f"{full_sampled - warm_sampled} of {args.requests}"
        print(f"| {label} | {sampled} | {per_request / 1e6:.2f} M | {per_request / first:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
