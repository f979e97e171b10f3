"""The alerts proven on a real Prometheus and Alertmanager (Debian's packages): the repository's own
deploy/prometheus/prometheus.yml, templated for loopback targets, scrapes two gunicorn instances, a
relay and a webhook deliverer; alerts.yml is loaded as it is written, except that every `for:` is
shortened 40 times (and the scrape and evaluation intervals set to 1 s) so the test takes seconds,
not minutes. Every target is up, every query of the Grafana dashboard returns data, killing an
instance fires ShopReplicaDown and stopping the relay while orders arrive fires ShopOutboxStalled;
Alertmanager delivers each to a webhook receiver of the test with the rule's labels and annotations,
and each resolves once the instance or the relay is back."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.receivers import Receiver, Reply, always

from .conftest import HOST, METRICS_TOKEN, RelayStarter, Starter, WebhooksStarter, free_port

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "shop.json"
SPEED_UP = 40  # every rule's `for:` divided by this
RATE_INTERVAL = "30s"  # Grafana's $__rate_interval, for a 1 s scrape
WEBHOOKS = {"SHOP_ENV": "development", "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_SECRET_KEY": "k" * 48}
TIMEOUT_S = 30.0

INSTALLED = bool(shutil.which("prometheus") and shutil.which("prometheus-alertmanager"))
if not INSTALLED and os.environ.get("SHOP_REQUIRE_PROMETHEUS") != "1":
    pytest.skip(
        "prometheus and prometheus-alertmanager are not installed (.ci/run installs them and sets "
        "SHOP_REQUIRE_PROMETHEUS=1)",
        allow_module_level=True,
    )


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if duration.endswith(unit):
            return float(duration[: -len(unit)]) * units[unit]
    raise ValueError(duration)


def templated_rules(target: Path) -> dict[str, dict[str, Any]]:
    """alerts.yml with each `for:` shortened; the rules by name, as written."""
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    by_name = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            by_name[rule["alert"]] = dict(rule)
            if "for" in rule:
                rule["for"] = f"{round(seconds(rule['for']) * 1000 / SPEED_UP)}ms"
    target.write_text(yaml.safe_dump(rules))
    return by_name


def templated_config(target: Path, rules: Path, token: Path, targets: dict[str, list[str]], alertmanager: str) -> None:
    """prometheus.yml with loopback targets in place of compose's DNS names, the token file and the rules
    where this test keeps them, 1 s intervals, and the test's Alertmanager."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    target.write_text(yaml.safe_dump(config))


class Alerts:
    """Alertmanager's webhook notifications, as they arrive."""

    def __init__(self) -> None:
        self.receiver = Receiver(always(Reply(200)))

    def notifications(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in list(self.receiver.received)]

    def wait_for(self, name: str, status: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for notification in self.notifications():
                for alert in notification["alerts"]:
                    if alert["labels"]["alertname"] == name and alert["status"] == status:
                        return dict(alert)
            seen = [(a["labels"]["alertname"], a["status"]) for n in self.notifications() for a in n["alerts"]]
            assert time.monotonic() < deadline, f"no {status} {name} within {timeout}s; received {seen}"
            time.sleep(0.2)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback, the test's own)
        return json.load(response)


def query(prometheus: str, expr: str) -> list[Any]:
    found = get_json(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert found["status"] == "success", found
    return list(found["data"]["result"])


def wait(condition: Callable[[], Any], what: str, timeout: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            result = condition()
            if result:
                return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.2)


def dashboard_queries() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "expr" in node:
                found.append(node["expr"].replace("$__rate_interval", RATE_INTERVAL))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(DASHBOARD.read_text()))
    return sorted(set(found))


@contextlib.contextmanager
def daemon(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_alerts_fire_on_a_real_prometheus_reach_alertmanager_and_resolve(
    start: Starter,
    start_relay: RelayStarter,
    start_webhooks: WebhooksStarter,
    broker_url: str,
    pg_url: str,
    tmp_path: Path,
) -> None:
    assert INSTALLED, "SHOP_REQUIRE_PROMETHEUS=1 but prometheus or prometheus-alertmanager is not installed"
    first, second = start(2, ORDER_LOCK_TIMEOUT_MS="300")
    relay = start_relay(broker_url)
    deliverer = start_webhooks(**WEBHOOKS)
    alerts = Alerts()
    alerts.receiver.start()
    prometheus_port, alertmanager_port = free_port(), free_port()
    prometheus = f"http://{HOST}:{prometheus_port}"
    token = tmp_path / "metrics_token"
    token.write_text(METRICS_TOKEN)
    rules = templated_rules(tmp_path / "alerts.yml")
    targets = {
        "shop": [f"{HOST}:{first.port}", f"{HOST}:{second.port}"],
        "relay": [f"{HOST}:{relay.port}"],
        "webhooks": [f"{HOST}:{deliverer.port}"],
        "prometheus": [f"{HOST}:{prometheus_port}"],
    }
    templated_config(
        tmp_path / "prometheus.yml", tmp_path / "alerts.yml", token, targets, f"{HOST}:{alertmanager_port}"
    )
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "test",
                    "group_by": ["alertname", "instance"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {"name": "test", "webhook_configs": [{"url": alerts.receiver.url, "send_resolved": True}]}
                ],
            }
        )
    )
    promtool = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, check=False
    )
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr
    alertmanager_command = [
        "prometheus-alertmanager",
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'alertmanager'}",
        f"--web.listen-address={HOST}:{alertmanager_port}",
        "--cluster.listen-address=",
    ]
    prometheus_command = [
        "prometheus",
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address={HOST}:{prometheus_port}",
        "--rules.alert.resend-delay=1s",
    ]
    with (
        daemon(alertmanager_command, tmp_path / "alertmanager.log"),
        daemon(prometheus_command, tmp_path / "prometheus.log"),
    ):
        try:
            # Every target up.
            def all_up() -> bool:
                active = get_json(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
                return len(active) == 5 and all(t["health"] == "up" for t in active)

            wait(all_up, "every target up")

            # Traffic for every panel: orders placed, cancelled, fulfilled and refused for stock, a failed
            # login, and one 503 (an order waiting on a row another transaction holds).
            manager = first.manager("boss")
            product = first.product(manager, "Tea", stock=100)
            customer = first.customer("carol")
            line = {"items": [{"product": product, "quantity": 1}]}
            placed = [first.expect(201, "POST", "/orders/", line, token=customer)["id"] for _ in range(3)]
            second.expect(200, "POST", f"/orders/{placed[0]}/cancel/", token=manager)
            second.expect(200, "POST", f"/orders/{placed[1]}/fulfil/", token=manager)
            too_many = {"items": [{"product": product, "quantity": 1000}]}
            assert first.call("POST", "/orders/", too_many, token=customer).status == 409
            assert first.call("POST", "/api/token/", {"username": "carol", "password": "wrong-pass"}).status == 401
            with psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(False)) as conn:
                conn.execute("SELECT 1 FROM products WHERE id = %s FOR UPDATE", (product,))
                assert first.call("POST", "/orders/", line, token=customer).status == 503
                assert second.call("POST", "/orders/", line, token=customer).status == 503

            # Every query of the dashboard returns data.
            queries = dashboard_queries()

            def no_empty_panel() -> bool:
                return all(query(prometheus, expr) for expr in queries)

            try:
                wait(no_empty_panel, "every dashboard query returns data")
            except AssertionError:
                empty = [expr for expr in queries if not query(prometheus, expr)]
                raise AssertionError(f"dashboard queries without data: {empty}") from None

            # An instance killed: ShopReplicaDown fires for it, and resolves once it is back.
            os.killpg(second.process.pid, signal.SIGKILL)
            second.process.wait()
            down = alerts.wait_for("ShopReplicaDown", "firing")
            rule = rules["ShopReplicaDown"]
            assert down["labels"]["instance"] == f"{HOST}:{second.port}"
            assert down["labels"]["severity"] == rule["labels"]["severity"] == "page"
            assert (
                down["annotations"]["summary"]
                == f"Replica {HOST}:{second.port} has not answered a scrape for 2 minutes"
            )
            second.launch()
            second.wait_ready()
            alerts.wait_for("ShopReplicaDown", "resolved")

            # The relay stopped while orders arrive: ShopOutboxStalled fires, and resolves once it is back.
            # Prometheus can't be sped up, so the pending rows are aged by 10 minutes instead of waiting
            # 5: the rule's expression and threshold are as written.
            relay.stop()
            for _ in range(3):
                first.expect(201, "POST", "/orders/", line, token=customer)
            with psycopg.connect(make_url(pg_url).set(drivername="postgresql").render_as_string(False)) as conn:
                conn.execute(
                    "UPDATE outbox SET occurred_at = occurred_at - interval '10 minutes' WHERE sent_at IS NULL"
                )
            stalled = alerts.wait_for("ShopOutboxStalled", "firing")
            rule = rules["ShopOutboxStalled"]
            assert stalled["labels"]["severity"] == rule["labels"]["severity"] == "page"
            assert stalled["annotations"]["summary"].startswith("The oldest unpublished event has waited 10m")
            assert stalled["annotations"]["description"] == rule["annotations"]["description"]
            assert set(stalled["annotations"]) == set(rule["annotations"])
            relay.launch()
            relay.wait_ready()
            alerts.wait_for("ShopOutboxStalled", "resolved")
        except BaseException:
            for log in ("prometheus.log", "alertmanager.log"):
                print(f"--- {log}:\n" + "\n".join((tmp_path / log).read_text(errors="replace").splitlines()[-30:]))
            raise
        finally:
            alerts.receiver.stop()
