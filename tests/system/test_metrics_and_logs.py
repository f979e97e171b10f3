"""/metrics and the logs of a real gunicorn with several workers: counts add up over every worker,
survive a worker's death, and every line the service writes is one JSON object."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from tests.system.conftest import Instance, Starter

pytestmark = pytest.mark.postgres

TOKEN = "scrape-token-for-tests"
Sample = tuple[str, frozenset[tuple[str, str]]]  # a metric's name and labels

WORKERS: Sample = ("shop_workers", frozenset())
SLOTS: Sample = ("shop_request_slots", frozenset())
LIVE: Sample = (
    "shop_http_requests_total",
    frozenset({("route", "/health/live"), ("method", "GET"), ("status", "200")}),
)


def scrape(service: Instance) -> dict[Sample, float]:
    reply = service.call("GET", "/metrics", token=TOKEN)
    assert reply.status == 200, service.explain(reply.body[:300])
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
    }


def log_lines(service: Instance) -> list[dict[str, Any]]:
    lines = service.log.read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(service.explain(f"not a JSON line: {line!r}")) from None
    return parsed


def live_pids(service: Instance) -> set[int]:
    return {line["pid"] for line in log_lines(service) if line.get("route") == "/health/live"}


def hit_live(service: Instance, times: int) -> None:
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: service.call("GET", "/health/live").status, range(times)))
    assert statuses == [200] * times


class StaleCounts(Protocol):
    def write_value(self, key: str, value: float, timestamp: float) -> None: ...

    def close(self) -> None: ...


# prometheus_client's MmapedDict is unannotated: what this test uses of it, typed.
open_counts: Callable[[str], StaleCounts] = MmapedDict


def stale_counts(directory: Path) -> None:
    """What a previous run would have left in a directory that outlives the process (an emptyDir)."""
    directory.mkdir()
    stale = open_counts(str(directory / "counter_999999.db"))
    labels = dict(LIVE[1])
    key = mmap_key("shop_http_requests", "shop_http_requests_total", list(labels), list(labels.values()), "")
    stale.write_value(key, 1000.0, 0.0)
    stale.close()


def test_counts_add_up_over_every_worker_and_outlive_a_dead_one(start: Starter, tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    stale_counts(directory)
    [service] = start(METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(directory))
    sent = 0
    deadline = time.monotonic() + 20
    while len(live_pids(service)) < 2:  # until both workers have answered some
        assert time.monotonic() < deadline, service.explain("one worker answered everything")
        hit_live(service, 40)
        sent += 40

    for _ in range(4):  # whichever worker answers the scrape reports the total
        assert scrape(service)[LIVE] == sent
    assert scrape(service)[WORKERS] == 2
    assert scrape(service)[SLOTS] == 2 * 8  # WEB_THREADS' default

    victim = service.workers()[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while victim in service.workers() or len(service.workers()) < 2:
        assert time.monotonic() < deadline, service.explain("gunicorn did not replace the killed worker")
        time.sleep(0.05)
    hit_live(service, 10)

    assert scrape(service)[LIVE] == sent + 10
    assert scrape(service)[WORKERS] == 2  # the killed worker no longer counts, its replacement does
    assert scrape(service)[SLOTS] == 2 * 8
    # The dead worker's counts stay in its files, its gauges were marked dead.
    assert (directory / f"counter_{victim}.db").exists()
    assert not list(directory.glob(f"gauge_livesum_{victim}.db"))
    assert service.call("GET", "/metrics").status == 401


def test_every_line_the_service_writes_is_json_with_the_request_id(start: Starter) -> None:
    [service] = start()

    reply = service.call("GET", "/health/live", headers={"X-Request-ID": "trace-me-42"})
    assert reply.headers["x-request-id"] == "trace-me-42"
    service.stop()

    lines = log_lines(service)  # gunicorn's start and stop lines included
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    [request] = [line for line in lines if line.get("request_id") == "trace-me-42"]
    assert request["logger"] == "shop.access"
    assert (request["method"], request["route"], request["status"]) == ("GET", "/health/live", 200)
    assert {"time", "level", "pid", "latency_ms", "remote_addr", "user_id"} <= set(request)
