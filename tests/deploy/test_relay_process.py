"""The real `shop relay`, started as compose and Kubernetes start it (the image's `shop` script, the
environment they give it), over a migrated SQLite file: the paths their probes and Prometheus ask
for answer, with the metric names the dashboard and alerts use, and SIGTERM stops it in time."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.contract import RELAY_METRICS, RELAY_PORT

REPO = Path(__file__).resolve().parents[2]
SHOP = Path(sys.executable).with_name("shop")  # the console script, as in the image


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
            return reply.status, reply.read()
    except HTTPError as error:
        return error.code, error.read()


def _compose_relay() -> dict[str, Any]:
    relay: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["relay"]
    return relay


def _k8s_relay() -> dict[str, Any]:
    documents = yaml.safe_load_all((REPO / "deploy" / "k8s" / "relay-deployment.yaml").read_text())
    deployment: dict[str, Any]
    [deployment] = [d for d in documents if d and d["kind"] == "Deployment"]
    return deployment


@dataclass
class Relay:
    process: subprocess.Popen[bytes]
    port: int
    log: Path


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a relay over a freshly migrated SQLite file."""
    assert SHOP.exists(), f"no `shop` script next to {sys.executable}"
    directory = tmp_path_factory.mktemp("relay")
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("SHOP_", "RELAY_", "BROKER_", "JWT_"))
    }
    env |= {"DATABASE_URL": f"sqlite:///{directory / 'shop.db'}", "SHOP_VAR_DIR": str(directory)}
    migrated = subprocess.run([SHOP, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert migrated.returncode == 0, migrated.stderr
    # A broker nobody listens on: with nothing in the outbox, the relay never needs it.
    return env | {"BROKER_URL": f"amqp://shop:x@127.0.0.1:{_free_port()}/%2F", "RELAY_HOST": "127.0.0.1"}


@contextmanager
def _running(env: dict[str, str], log: Path) -> Iterator[Relay]:
    """`shop relay` as compose and Kubernetes run it, until it answers ready."""
    assert _compose_relay()["command"] == [SHOP.name, "relay"]
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([SHOP, "relay"], env=env | {"RELAY_PORT": str(port)}, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 15
        while _ready(port) != 200:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield Relay(process, port, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def relay(database: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    with _running(database, tmp_path_factory.mktemp("log") / "relay.log") as running:
        yield running


def _ready(port: int) -> int | None:
    try:
        return _get(port, "/health/ready")[0]
    except OSError:
        return None


def test_the_relays_default_port_is_the_one_the_deployment_files_use() -> None:
    from shop.entrypoints.settings import Settings

    settings = Settings.from_env({"DATABASE_URL": "postgresql+psycopg://shop@db/shop"}, signs=False)

    assert settings.relay_port == RELAY_PORT


def test_the_kubernetes_probes_paths_answer(relay: Relay) -> None:
    container = _k8s_relay()["spec"]["template"]["spec"]["containers"][0]

    for kind in ("livenessProbe", "readinessProbe"):
        status, body = _get(relay.port, container[kind]["httpGet"]["path"])
        assert status == 200, (kind, body)
    assert _get(relay.port, "/health/nowhere")[0] == 404


def test_the_compose_health_check_passes_against_it(relay: Relay) -> None:
    command = _compose_relay()["healthcheck"]["test"]
    assert command[:2] == ["CMD", "python"]
    argv = [sys.executable, *(re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{relay.port}", arg) for arg in command[2:])]

    assert subprocess.run(argv, capture_output=True, timeout=10, check=False).returncode == 0


def test_the_scraped_path_exposes_the_relay_metrics(relay: Relay) -> None:
    path = _k8s_relay()["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
    status, body = _get(relay.port, path)

    assert status == 200
    families = {family.name: family for family in text_string_to_metric_families(body.decode())}
    for name, labels in RELAY_METRICS.items():
        family = families[name.removesuffix("_total")]
        for sample in family.samples:
            assert sample.labels.keys() <= labels, (name, sample)
    # The one this relay leads: alone on its database, it holds the lock.
    [leader] = families["shop_relay_leader"].samples
    assert leader.value == 1


def test_sigterm_stops_it_within_the_grace_compose_and_kubernetes_give(
    database: dict[str, str], tmp_path: Path
) -> None:
    compose = int(_compose_relay()["stop_grace_period"].removesuffix("s"))
    kubernetes = _k8s_relay()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]

    with _running(database, tmp_path / "relay.log") as relay:
        started = time.monotonic()
        relay.process.send_signal(signal.SIGTERM)
        returncode = relay.process.wait(timeout=min(compose, kubernetes))

    assert returncode == 0, relay.log.read_text()
    assert time.monotonic() - started < 3
    assert "relay stopped" in relay.log.read_text()
