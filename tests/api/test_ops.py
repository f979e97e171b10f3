"""Operations endpoints and signals through HTTP: probes, /metrics, and the JSON log line per request."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import jwt
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from shop.adapters.sql.migrations import head_revision, upgrade
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.deploy.contract import METRICS
from tests.fakes import PASSWORD

from .conftest import Api
from .test_errors import assert_problem


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def scrape(api: Api, token: str | None = None) -> str:
    response = api.call("GET", "/metrics", token)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return str(response.get_data(as_text=True))


def log_lines(captured: str) -> list[dict[str, Any]]:
    """Every line written is one JSON object."""
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def access_lines(captured: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(captured) if line["logger"] == "shop.access"]


def app_with(settings: Settings, **changes: Any) -> Api:
    return Api(create_app(replace(settings, **changes)).test_client())


# Probes


def test_live_answers_without_a_token(api: Api) -> None:
    response = api.client.get("/health/live")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "X-RateLimit-Limit" not in response.headers


def test_ready_when_the_database_is_at_the_migrations_head(api: Api) -> None:
    response = api.client.get("/health/ready")

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok"}}


def test_not_ready_on_a_database_never_migrated(settings: Settings, tmp_path: Path) -> None:
    api = app_with(settings, database_url=f"sqlite:///{tmp_path / 'empty.db'}")

    body = assert_problem(api.client.get("/health/ready"), 503, "/health/ready")

    assert body["checks"]["database"] == f"schema at revision none, expected {head_revision()}: run `shop migrate`"
    assert "shop migrate" in body["detail"]


def test_not_ready_on_a_database_behind_the_head(settings: Settings, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    api = app_with(settings, database_url=url)

    body = assert_problem(api.client.get("/health/ready"), 503)

    assert body["checks"] == {"database": f"schema at revision 0001, expected {head_revision()}: run `shop migrate`"}


def test_ready_on_a_database_ahead_of_this_code_as_during_a_rolling_update(settings: Settings, sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    with engine.begin() as connection:  # a newer release's migrations ran already
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_next_release'"))
    engine.dispose()
    api = app_with(settings, database_url=sqlite_url)

    response = api.client.get("/health/ready")

    assert response.status_code == 200, response.get_data(as_text=True)


def test_not_ready_when_the_database_is_unreachable(settings: Settings) -> None:
    api = app_with(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")

    response = api.client.get("/health/ready")

    body = assert_problem(response, 503)
    assert body["checks"] == {"database": "unreachable"}
    assert response.headers["Retry-After"] == "5"
    assert "127.0.0.1:1" not in response.get_data(as_text=True)


def test_not_ready_when_the_configured_redis_is_unreachable(settings: Settings) -> None:
    api = app_with(settings, redis_url="redis://127.0.0.1:1/0")

    body = assert_problem(api.client.get("/health/ready"), 503)

    assert body["checks"] == {"database": "ok", "redis": "unreachable"}


def test_ready_with_redis(settings: Settings) -> None:
    api = app_with(settings, redis_url="redis://127.0.0.1:6379/0")

    response = api.client.get("/health/ready")

    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


# Metrics


def test_metrics_expose_every_series_the_dashboards_and_alerts_rely_on(api: Api) -> None:
    api.client.get("/health/live")
    api.client.get("/health/ready")  # a database connection: the pool gauge gets its label

    exposed: dict[str, set[frozenset[str]]] = {}
    for name, labels in samples(scrape(api)):
        exposed.setdefault(name, set()).add(frozenset(label for label, _value in labels))

    for name, expected in METRICS.items():
        assert name in exposed, name
        assert exposed[name] == {expected}, name


def test_requests_are_counted_by_route_template_method_and_status(api: Api, manager_token: str) -> None:
    created = api.call("POST", "/products/", manager_token, json={"name": "Tea", "price": "2.50", "stock": 3})
    product_id = created.get_json()["id"]
    route = "/products/<id:product_id>/"
    before = scrape(api)

    for _ in range(3):
        assert api.call("GET", f"/products/{product_id}/", manager_token).status_code == 200
    assert api.call("GET", "/products/999999/", manager_token).status_code == 404
    assert api.client.get("/no/such/path/").status_code == 404
    after = scrape(api)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("shop_http_requests_total", route=route, method="GET", status="200") == 3
    assert grew("shop_http_requests_total", route=route, method="GET", status="404") == 1
    assert grew("shop_http_requests_total", route="<unmatched>", method="GET", status="404") == 1
    assert grew("shop_http_request_duration_seconds_count", route=route, method="GET") == 4
    assert grew("shop_http_request_duration_seconds_bucket", route=route, method="GET", le="+Inf") == 4


def test_made_up_methods_share_one_label(api: Api) -> None:
    before = scrape(api)

    for method in ("BREW", "FOO", "PROPFIND"):
        api.client.open("/products/", method=method)
    after = scrape(api)

    grown = value(after, "shop_http_requests_total", route="<unmatched>", method="other", status="405")
    assert grown - value(before, "shop_http_requests_total", route="<unmatched>", method="other", status="405") == 3
    assert not any(("method", "BREW") in labels for _name, labels in samples(after))


def test_business_events_are_counted(api: Api, manager_token: str) -> None:
    product = api.call("POST", "/products/", manager_token, json={"name": "Cup", "price": "4", "stock": 2}).get_json()
    api.signup("dora")
    token = api.login("dora")["access"]
    before = scrape(api)

    placed = api.call("POST", "/orders/", token, json={"items": [{"product": product["id"], "quantity": 1}]})
    refused = api.call("POST", "/orders/", token, json={"items": [{"product": product["id"], "quantity": 5}]})
    api.call("POST", f"/orders/{placed.get_json()['id']}/cancel/", token)
    api.client.post("/api/token/", json={"username": "dora", "password": "not the password"})
    after = scrape(api)

    assert (placed.status_code, refused.status_code) == (201, 409)
    for name in (
        "shop_orders_placed_total",
        "shop_order_stock_rejections_total",
        "shop_orders_cancelled_total",
        "shop_login_failures_total",
    ):
        assert value(after, name) - value(before, name) == 1, name


def test_database_connections_in_use_go_back_to_zero_between_requests(api: Api) -> None:
    api.client.get("/products/")

    text = scrape(api)

    assert value(text, "shop_db_connections_in_use", pool="reader") == 0
    assert value(text, "shop_db_connections_in_use", pool="writer") == 0


def test_requests_in_flight_count_only_the_scrape_itself_whatever_happened_before(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> NoReturn:
        raise RuntimeError("kaboom")

    app.add_url_rule("/boom/", "boom", boom)
    api = Api(app.test_client())
    api.client.get("/boom/")
    api.client.get("/no/such/path/")
    api.client.post("/users/", data="not json", content_type="text/plain")

    assert value(scrape(api), "shop_http_requests_in_flight") == 1


def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    api = app_with(settings, metrics_token="scrape-secret")

    assert_problem(api.client.get("/metrics"), 401)
    assert_problem(api.call("GET", "/metrics", "wrong-secret"), 401)
    assert_problem(api.call("GET", "/metrics", "caf\u00e9-\u2603"), 401)
    assert "shop_http_requests_total" in scrape(api, "scrape-secret")


# Logs


def test_one_json_line_per_request_with_its_context(
    api: Api, customer_token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    response = api.call("GET", "/orders/", customer_token, headers={"X-Request-ID": "req-42"})

    lines = access_lines(capsys.readouterr().out)
    assert len(lines) == 1
    line = lines[0]
    assert set(line) >= {"time", "level", "message", "request_id", "method", "route", "path", "status"}
    assert (line["request_id"], line["method"], line["route"], line["status"]) == ("req-42", "GET", "/orders/", 200)
    assert line["user_id"] == 1  # carol, the only user
    assert line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["latency_ms"], float)
    assert line["latency_ms"] >= 0
    assert response.headers["X-Request-ID"] == "req-42"


def test_a_generated_request_id_is_logged_and_returned(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()

    response = api.client.get("/products/", headers={"X-Request-ID": "no spaces allowed"})

    (line,) = access_lines(capsys.readouterr().out)
    assert line["request_id"] == response.headers["X-Request-ID"] != "no spaces allowed"
    assert line["user_id"] is None


def test_an_error_is_logged_once_with_its_traceback_and_request_id(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> NoReturn:
        raise RuntimeError("kaboom")

    app.add_url_rule("/boom/", "boom", boom)
    capsys.readouterr()

    app.test_client().get("/boom/", headers={"X-Request-ID": "err-7"})

    lines = log_lines(capsys.readouterr().out)
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert "RuntimeError: kaboom" in errors[0]["exc_info"]
    assert "Traceback" in errors[0]["exc_info"]
    assert {line["request_id"] for line in lines} == {"err-7"}
    assert [line["status"] for line in lines if line["logger"] == "shop.access"] == [500]


def test_an_outage_is_one_traceback_not_one_per_refused_request(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every request refused while the database is down is one access line at WARNING; the outage
    itself is logged once with its traceback (then at most every few seconds, with a count)."""
    api = app_with(settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    token = jwt.encode(
        {"sub": "1", "type": "access", "jti": "j", "ver": 0, "fam": "f", "iat": 1, "exp": 4_000_000_000},
        settings.jwt_secret_key,
        algorithm="HS256",
    )
    capsys.readouterr()

    statuses = [api.call("GET", "/products/", token).status_code for _ in range(20)]

    lines = log_lines(capsys.readouterr().out)
    assert statuses == [503] * 20
    assert [(line["level"], line["status"]) for line in lines if line["logger"] == "shop.access"] == [
        ("WARNING", 503)
    ] * 20
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["message"].startswith("database unavailable; answering 503: OperationalError")
    assert "Traceback" in errors[0]["exc_info"]


def test_no_password_or_token_ever_reaches_the_logs(app: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    tokens: dict[str, str] = {}

    def boom() -> NoReturn:
        raise RuntimeError(f"failed for Bearer {tokens['access']} and {tokens['refresh']}")

    app.add_url_rule("/boom/", "boom", boom)
    api = Api(app.test_client())
    capsys.readouterr()
    signup_password = "my-own-secret-passphrase"
    user = api.signup("erin", signup_password)
    tokens.update(api.login("erin", signup_password))
    api.client.post("/api/token/", json={"username": "erin", "password": "wrong-secret-passphrase"})
    api.call("GET", f"/users/{user['id']}/", tokens["access"])
    api.call("GET", f"/users/{user['id']}/", tokens["access"] + "tampered")
    api.client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    api.client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})  # reuse: the family is revoked
    api.call("GET", "/boom/", tokens["access"])

    captured = capsys.readouterr()
    everything = captured.out + captured.err
    assert len(access_lines(captured.out)) == 8
    for secret in (signup_password, "wrong-secret-passphrase", PASSWORD, tokens["access"], tokens["refresh"]):
        assert secret not in everything
    for token in (tokens["access"], tokens["refresh"]):
        for part in token.split("."):
            assert part not in everything
    assert "Authorization" not in everything
    assert "[redacted]" in everything  # the exception's message was scrubbed, not dropped


# Behind a proxy


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    api = app_with(settings, proxy_hops=1)
    capsys.readouterr()

    api.client.get("/products/", headers={"X-Forwarded-For": "203.0.113.9"})

    (line,) = access_lines(capsys.readouterr().out)
    assert line["remote_addr"] == "203.0.113.9"


def test_without_a_proxy_a_forwarded_header_is_ignored(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()

    api.client.get("/products/", headers={"X-Forwarded-For": "203.0.113.9"})

    (line,) = access_lines(capsys.readouterr().out)
    assert line["remote_addr"] == "127.0.0.1"


def test_rate_limits_key_on_the_forwarded_client_behind_a_proxy(settings: Settings) -> None:
    api = app_with(settings, proxy_hops=1, ratelimit_per_address="2 per minute")

    def signup(name: str, address: str) -> int:
        body = {"username": name, "password": PASSWORD}
        return int(api.client.post("/users/", json=body, headers={"X-Forwarded-For": address}).status_code)

    assert [signup("u1", "203.0.113.1"), signup("u2", "203.0.113.1"), signup("u3", "203.0.113.1")] == [201, 201, 429]
    assert signup("u4", "203.0.113.2") == 201


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
def test_operations_routes_stay_out_of_the_public_api_document(api: Api, path: str) -> None:
    spec = api.client.get("/api/schema/").get_json()

    assert path not in spec["paths"]


def test_the_dashboards_filter_for_operations_routes_matches_exactly_the_ops_routes(app: Flask) -> None:
    """deploy/grafana and deploy/prometheus leave out route=~"/health/.*|/metrics" (probes, scrapes)."""
    ops_filter = re.compile(r"/health/.*|/metrics")
    matched = {rule.rule for rule in app.url_map.iter_rules() if ops_filter.fullmatch(rule.rule)}
    ops_routes = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("ops.")}

    assert matched == ops_routes == {"/health/live", "/health/ready", "/metrics"}
