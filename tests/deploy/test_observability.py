"""deploy/prometheus and deploy/grafana: the scrape jobs, the provisioning, and a dashboard and alerts
whose queries use only the metric names and labels the service (API replicas and relays) exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.contract import METRICS, RELAY_METRICS, WEBHOOK_METRICS

REPO = Path(__file__).resolve().parents[2]
TARGET_LABELS = frozenset({"instance", "job"})  # added by Prometheus to every series it scrapes
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "shop.json"
assert not METRICS.keys() & RELAY_METRICS.keys(), "one name, two label sets: the contract must choose"
assert not (METRICS.keys() | RELAY_METRICS.keys()) & WEBHOOK_METRICS.keys()
EXPOSED = {**METRICS, **RELAY_METRICS, **WEBHOOK_METRICS}


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def _panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = _dashboard()["panels"]
    return panels


def _expressions() -> list[str]:
    return [target["expr"] for panel in _panels() for target in panel["targets"]]


def _selectors(expr: str) -> list[tuple[str, str]]:
    """(metric, label matchers) of every selector in a PromQL expression."""
    return re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", expr)


def _aggregations(expr: str) -> list[tuple[list[str], str]]:
    """(grouping labels, the aggregated expression) for `sum by (...) (...)`."""
    found = []
    for match in re.finditer(r"\bby\s*\(([^)]*)\)\s*\(", expr):
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(expr[end], 0)
            end += 1
        found.append(([label.strip() for label in match[1].split(",")], expr[match.end() : end - 1]))
    return found


def _provisioned(kind: str) -> dict[str, Any]:
    files = list((GRAFANA / "provisioning" / kind).glob("*.yml"))
    assert len(files) == 1
    provisioned: dict[str, Any] = yaml.safe_load(files[0].read_text())
    return provisioned


def _grafana_service() -> dict[str, Any]:
    grafana: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["grafana"]
    return grafana


def test_the_dashboard_has_the_panels_the_service_is_watched_with() -> None:
    titles = [panel["title"].lower() for panel in _panels()]

    for wanted in (
        "request rate",
        "latency",
        "error rate",
        "orders per minute",
        "stock-outs",
        "db connections",
        "outbox pending",
        "oldest pending",
        "events published",
        "relay leader",
    ):
        assert any(wanted in title for title in titles), wanted
    assert len({panel["id"] for panel in _panels()}) == len(titles)
    assert _dashboard()["uid"] == "shop"


def test_every_panel_queries_the_provisioned_prometheus() -> None:
    [datasource] = _provisioned("datasources")["datasources"]

    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    for panel in _panels():
        assert panel["targets"], panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}


def _families(names: Iterable[str]) -> set[str]:
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}


@pytest.mark.parametrize("exposed", [METRICS, RELAY_METRICS], ids=["api", "relay"])
def test_queries_use_only_the_metrics_the_service_exposes(exposed: dict[str, frozenset[str]]) -> None:
    used = {name for expr in _expressions() for name in re.findall(r"\bshop_[a-z0-9_]+", expr)}

    assert used <= EXPOSED.keys(), used - EXPOSED.keys()
    # The dashboard covers every family, the API's and the relay's.
    assert _families(exposed) <= _families(used), _families(exposed) - _families(used)


@pytest.mark.parametrize("expr", _expressions(), ids=[f"q{i}" for i, _ in enumerate(_expressions())])
def test_queries_use_only_labels_their_metric_has(expr: str) -> None:
    """Labels of the service's own, or the ones Prometheus puts on every scraped series."""
    assert expr.count("(") == expr.count(")")
    assert expr.count("{") == expr.count("}")
    for metric, matchers in _selectors(expr):
        if metric in EXPOSED and matchers:
            labels = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
            assert labels <= EXPOSED[metric], (metric, labels)
    for grouping, inner in _aggregations(expr):
        metrics = {m for m, _ in _selectors(inner) if m in EXPOSED}
        assert metrics, f"nothing of the service's is aggregated in {inner!r}"
        for metric in metrics:
            assert set(grouping) <= EXPOSED[metric] | TARGET_LABELS, (metric, grouping)


def test_latency_quantiles_come_from_the_histogram_buckets() -> None:
    quantiles = [e for e in _expressions() if "histogram_quantile" in e]
    levels = {float(level) for e in quantiles for level in re.findall(r"histogram_quantile\(\s*([0-9.]+)", e)}

    assert {0.5, 0.99} <= levels
    for expr in quantiles:
        assert re.search(r"rate\(shop_http_request_duration_seconds_bucket(\{[^}]*\})?\[", expr), expr
        [(grouping, _)] = _aggregations(expr)
        assert "le" in grouping


def test_the_error_rate_is_the_share_of_5xx_answers() -> None:
    ratios = [e for e in _expressions() if 'status=~"5.."' in e and "/" in e]

    assert ratios
    for expr in ratios:
        numerator, denominator = expr.split(" / ")
        assert re.sub(r'status=~"5..",?', "", numerator).replace("{}", "") == denominator


def test_request_panels_leave_out_probes_and_scrapes() -> None:
    for expr in _expressions():
        for selector in re.findall(r"shop_http_request[a-z_]*(\{[^}]*\})?\[", expr):
            assert 'route!~"/health/.*|/metrics"' in selector, expr


def test_counters_are_read_as_rates() -> None:
    for expr in _expressions():
        for counter in re.findall(r"\bshop_[a-z0-9_]+(?:_total|_bucket)\b", expr):
            assert re.search(rf"(rate|increase)\({counter}\b", expr), expr


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it() -> None:
    [provider] = _provisioned("dashboards")["providers"]
    grafana = _grafana_service()
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])

    assert provider["type"] == "file"
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


def test_prometheus_scrapes_the_replicas_metrics_with_the_token() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "shop"]

    assert job["metrics_path"] == "/metrics"
    assert job["scheme"] == "http"
    assert job["authorization"]["type"] == "Bearer"
    assert "credentials" not in job["authorization"]  # only the file: no token in the repository
    assert job["authorization"]["credentials_file"].startswith("/run/secrets/")
    # The dashboard's "replicas up" panel counts this job.
    assert any(f'job="{job["job_name"]}"' in expr for expr in _expressions())


# Alerts, checked by promtool itself (CI installs it and sets SHOP_REQUIRE_PROMTOOL=1).

PROMETHEUS = REPO / "deploy" / "prometheus"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("SHOP_REQUIRE_PROMTOOL") == "1":
        pytest.fail("SHOP_REQUIRE_PROMTOOL=1 but promtool is not installed")
    pytest.skip("promtool is not installed (CI installs it and sets SHOP_REQUIRE_PROMTOOL=1)")


def _run(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def _rules() -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return rules


def _alert_expressions() -> list[str]:
    return [rule["expr"] for group in _rules()["groups"] for rule in group["rules"]]


def test_the_alert_rules_are_valid() -> None:
    checked = _run("check", "rules", "alerts.yml")

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_on_its_case_and_stays_quiet_on_healthy_traffic() -> None:
    tested = _run("test", "rules", "alerts.test.yml")

    assert tested.returncode == 0, tested.stdout + tested.stderr
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")}
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    assert fired == {rule["alert"] for group in rules["groups"] for rule in group["rules"]}


def test_the_prometheus_config_is_valid_and_loads_the_alerts(tmp_path: Path) -> None:
    """As compose mounts it: the token file and the rules at their paths inside the container."""
    config = (PROMETHEUS / "prometheus.yml").read_text()
    token = tmp_path / "metrics_token"
    token.write_text("a-token")
    assert "/run/secrets/metrics_token" in config
    assert "/etc/prometheus/alerts.yml" in config
    config = config.replace("/run/secrets/metrics_token", str(token))
    config = config.replace("/etc/prometheus/alerts.yml", str(PROMETHEUS / "alerts.yml"))
    (tmp_path / "prometheus.yml").write_text(config)

    checked = _run("check", "config", str(tmp_path / "prometheus.yml"), cwd=tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"SUCCESS: \d+ rules found", checked.stdout), checked.stdout


@pytest.mark.parametrize("expr", _alert_expressions())
def test_alerts_use_only_the_metrics_and_labels_the_service_exposes(expr: str) -> None:
    for metric, matchers in _selectors(expr):
        if not metric.startswith("shop_"):
            continue
        assert metric in EXPOSED, metric
        labels = set(re.findall(r"([a-z_]+)\s*[!=]~?", matchers or ""))
        assert labels <= EXPOSED[metric], (metric, labels)


def test_alerts_cover_the_outbox_and_the_relays() -> None:
    used = {name for expr in _alert_expressions() for name in re.findall(r"\bshop_[a-z0-9_]+", expr)}

    assert {"shop_outbox_oldest_pending_seconds", "shop_relay_leader", "shop_webhook_endpoint_failing_seconds"} <= used


def test_every_alert_says_how_urgent_it_is_and_what_is_wrong() -> None:
    rules = [rule for group in _rules()["groups"] for rule in group["rules"]]

    assert rules
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_outbox_gauges_are_read_with_max(source: str) -> None:
    """Every API replica reads the same outbox (a sum would count it once per replica), and the
    relays expose the gauges at 0 (a min or an average would hide a stalled outbox)."""
    expressions = _expressions() if source == "dashboard" else _alert_expressions()
    outbox = [expr for expr in expressions if "shop_outbox_" in expr]

    assert outbox
    for expr in outbox:
        rest = re.sub(r"\bmax\(\s*shop_outbox_[a-z_]+\s*\)", "", expr)
        assert "shop_outbox_" not in rest, expr


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each one, as a recording rule; Grafana's $__rate_interval stands for a range."""
    rules = [
        {"record": f"dashboard:q{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, expr in enumerate(_expressions())
    ]
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    checked = _run("check", "rules", "dashboard.yml", cwd=tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout, checked.stdout
