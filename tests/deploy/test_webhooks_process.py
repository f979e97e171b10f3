"""The real `shop webhooks`, started as compose and Kubernetes start it, over a migrated SQLite file:
its probes answer on the port the deployment files use, /metrics names what the alerts and the
contract name, it refuses to start without WEBHOOK_SECRET_KEY, and SIGTERM stops it in time."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.contract import NOT_FOR_THE_DELIVERER, REQUIRED_BY_THE_DELIVERER, WEBHOOK_METRICS, WEBHOOKS_PORT
from tests.deploy.test_relay_process import _free_port

REPO = Path(__file__).resolve().parents[2]
SHOP = Path(sys.executable).with_name("shop")


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
            return reply.status, reply.read()
    except HTTPError as error:
        return error.code, error.read()


def _compose() -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["webhooks"]
    return service


def _k8s() -> dict[str, Any]:
    documents = yaml.safe_load_all((REPO / "deploy" / "k8s" / "webhooks-deployment.yaml").read_text())
    [deployment] = [d for d in documents if d and d["kind"] == "Deployment"]
    return dict(deployment)


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("webhooks")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "WEBHOOK", "JWT_"))}
    env |= {"DATABASE_URL": f"sqlite:///{directory / 'shop.db'}", "SHOP_VAR_DIR": str(directory)}
    migrated = subprocess.run([SHOP, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert migrated.returncode == 0, migrated.stderr
    return env | {"SHOP_ENV": "production", "WEBHOOK_SECRET_KEY": "k" * 40, "WEBHOOKS_HOST": "127.0.0.1"}


@pytest.fixture
def running(environment: dict[str, str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    assert _compose()["command"] == [SHOP.name, "webhooks"]
    port, log = _free_port(), tmp_path / "webhooks.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SHOP, "webhooks"], env=environment | {"WEBHOOKS_PORT": str(port)}, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 15
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        try:
            if _get(port, "/health/ready")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.05)
    yield process, port, log
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_deployment_files_give_it_what_it_needs_and_no_more() -> None:
    compose = _compose()["environment"]
    [container] = _k8s()["spec"]["template"]["spec"]["containers"]
    kubernetes = {item["name"] for item in container["env"]}
    for given in (set(compose), kubernetes):
        assert given >= REQUIRED_BY_THE_DELIVERER, REQUIRED_BY_THE_DELIVERER - given
        assert not given & NOT_FOR_THE_DELIVERER
    assert container["ports"][0]["containerPort"] == WEBHOOKS_PORT
    assert f"127.0.0.1:{WEBHOOKS_PORT}/health/ready" in " ".join(_compose()["healthcheck"]["test"])


def test_the_default_port_is_the_one_the_deployment_files_use() -> None:
    from shop.entrypoints.settings import Settings

    assert Settings.from_env({"DATABASE_URL": "sqlite://"}, signs=False).webhooks_port == WEBHOOKS_PORT


def test_its_probes_and_metrics_answer(running: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    _process, port, _log = running
    container = _k8s()["spec"]["template"]["spec"]["containers"][0]
    for kind in ("livenessProbe", "readinessProbe"):
        assert _get(port, container[kind]["httpGet"]["path"])[0] == 200, kind
    status, body = _get(port, _k8s()["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"])
    assert status == 200
    families = {family.name: family for family in text_string_to_metric_families(body.decode())}
    for name in ("shop_webhook_endpoints", "shop_webhook_deliveries_waiting", "shop_webhook_oldest_waiting_seconds"):
        assert name in families, name
    for family in families.values():
        for sample in family.samples:
            if sample.name.startswith("shop_") and not sample.name.endswith("_created"):
                assert sample.name in WEBHOOK_METRICS, sample.name
                assert sample.labels.keys() <= WEBHOOK_METRICS[sample.name], sample


def test_sigterm_stops_it_within_its_grace(running: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    process, _port, log = running
    compose = int(_compose()["stop_grace_period"].removesuffix("s"))
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=compose) == 0, log.read_text()
    assert time.monotonic() - started < 3
    assert "webhooks stopped" in log.read_text()


def test_it_refuses_to_start_without_the_key(environment: dict[str, str]) -> None:
    env = {k: v for k, v in environment.items() if k != "WEBHOOK_SECRET_KEY"}
    refused = subprocess.run([SHOP, "webhooks"], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert refused.returncode == 2
    assert re.search(r"WEBHOOK_SECRET_KEY", refused.stderr)
