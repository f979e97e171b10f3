"""Tracing with the SDK's in-memory exporter: the span tree of POST /orders/ on PostgreSQL and Redis,
an incoming traceparent honoured, the trace context kept through the outbox into the AMQP headers and
the webhook requests, trace ids in the JSON logs, and no secret in any span."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pika
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shop.adapters import tracing as context
from shop.adapters.amqp import EXCHANGE, AmqpPublisher, declare
from shop.adapters.security import SystemClock
from shop.adapters.webhook_http import SafeSender, SystemResolver
from shop.application.messages import Message
from shop.application.relay import relay_batch
from shop.application.webhooks import fan_out
from shop.domain.webhooks import Secret, WebhookEndpoint
from shop.entrypoints import tracing
from shop.entrypoints.app import create_app
from shop.entrypoints.logs import configure_logging
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.fakes import PASSWORD
from tests.receivers import receiving
from tests.support import container_of, use_cases

from .conftest import UowFactory
from .test_repository_contract import NOW

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
REDIS_URL = "redis://127.0.0.1:6379/0"

_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test alone, every span kept in memory as it ends."""
    tracing.start(tracing.API, exporter=_exporter)
    context.enable()
    _exporter.clear()
    try:
        yield _exporter
    finally:
        tracing.uninstrument_libraries()
        context.disable()


@pytest.fixture
def api(pg_url: str, tmp_path: Path, spans: InMemorySpanExporter) -> Api:
    env = {"DATABASE_URL": pg_url, "JWT_SECRET_KEY": "x" * 48, "REDIS_URL": REDIS_URL}
    settings = replace(Settings.from_env(env=env, var_dir=tmp_path), argon2_memory_kib=64, argon2_time_cost=1)
    app = create_app(settings)
    use_cases(app).make_manager(username="boss", password=PASSWORD)
    return Api(app.test_client())


def hex_id(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def place_order(api: Api, headers: dict[str, str] | None = None) -> tuple[str, list[ReadableSpan]]:
    """An order of one product by a customer; the customer's token and the spans of POST /orders/."""
    manager = api.login("boss")["access"]
    product = api.call("POST", "/products/", manager, json={"name": "Tea", "price": "10.50", "stock": 5}).get_json()
    api.signup("carol")
    token = api.login("carol")["access"]
    _exporter.clear()
    body = {"items": [{"product": product["id"], "quantity": 2}]}
    response = api.call("POST", "/orders/", token, json=body, headers=headers or {})
    assert response.status_code == 201, response.get_json()
    return token, list(_exporter.get_finished_spans())


def descends_from(span: ReadableSpan, ancestor: ReadableSpan, every: list[ReadableSpan]) -> bool:
    by_id = {s.context.span_id: s for s in every}
    parent = span.parent
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        found = by_id.get(parent.span_id)
        parent = found.parent if found else None
    return False


@pytest.mark.postgres
def test_post_orders_is_a_server_span_over_its_use_case_its_sql_and_its_redis_calls(api: Api) -> None:
    _token, finished = place_order(api)

    [server] = [s for s in finished if s.kind is SpanKind.SERVER]
    assert server.name == "POST /orders/"
    attributes = dict(server.attributes or {})
    assert attributes["http.route"] == "/orders/"
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.response.status_code"] == 201
    assert server.parent is None

    [use_case] = [s for s in finished if s.name == "place_order"]
    assert use_case.parent is not None and use_case.parent.span_id == server.context.span_id
    assert (use_case.attributes or {})["code.function.name"] == "shop.application.orders.place_order"

    sql = [s for s in finished if (s.attributes or {}).get("db.system") == "postgresql"]
    assert sql, "no SQL span"
    assert all(s.kind is SpanKind.CLIENT for s in sql)
    assert any(descends_from(s, use_case, finished) for s in sql), "no SQL span under the use case"
    assert any(str((s.attributes or {}).get("db.statement", "")).strip().startswith("INSERT INTO outbox") for s in sql)
    redis = [s for s in finished if (s.attributes or {}).get("db.system") == "redis"]
    assert redis, "no Redis span"
    for span in sql + redis + [use_case]:
        assert span.context.trace_id == server.context.trace_id
        assert descends_from(span, server, finished)


@pytest.mark.postgres
def test_an_incoming_traceparent_is_the_parent_of_the_server_span(api: Api) -> None:
    _token, finished = place_order(api, {"traceparent": TRACEPARENT, "tracestate": "vendor=1"})

    [server] = [s for s in finished if s.kind is SpanKind.SERVER]
    assert hex_id(server.context.trace_id, 32) == TRACE_ID
    assert server.parent is not None and hex_id(server.parent.span_id, 16) == PARENT_ID
    assert server.parent.is_remote
    assert all(hex_id(s.context.trace_id, 32) == TRACE_ID for s in finished)


@pytest.mark.postgres
def test_no_secret_in_any_span(api: Api) -> None:
    token, finished = place_order(api)
    api.call("POST", "/api/token/", json={"username": "carol", "password": PASSWORD})
    finished += list(_exporter.get_finished_spans())

    for span in finished:
        for name, value in (span.attributes or {}).items():
            text = str(value)
            assert token not in text and PASSWORD not in text, (span.name, name)
            assert "bearer" not in text.lower() and "eyJ" not in text, (span.name, name)
            assert "authorization" not in name.lower() and "body" not in name.lower(), (span.name, name)
            assert '"quantity"' not in text, (span.name, name)  # no request body


@pytest.mark.postgres
def test_the_outbox_keeps_the_context_and_the_amqp_message_carries_it(api: Api, pg_url: str, broker_url: str) -> None:
    _token, finished = place_order(api, {"traceparent": TRACEPARENT})
    container = container_of(api.client.application)
    [use_case] = [s for s in finished if s.name == "place_order"]

    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    declare(channel)
    queue = channel.queue_declare(f"test-{uuid.uuid4()}", exclusive=True).method.queue
    channel.queue_bind(queue, EXCHANGE, routing_key="order.*")
    publisher = AmqpPublisher(broker_url)
    _exporter.clear()
    try:
        with container.uow() as uow:
            pending = uow.outbox.pending(100)
        [stored] = [e.trace_context for e in pending if e.type == "order.placed"]
        assert stored["traceparent"].split("-")[1] == TRACE_ID
        assert stored["traceparent"].split("-")[2] == hex_id(use_case.context.span_id, 16)

        relay_batch(uow=container.uow(), publisher=publisher, clock=SystemClock(), limit=100)
        method, properties, _body = channel.basic_get(queue, auto_ack=True)
    finally:
        publisher.close()
        connection.close()

    assert method is not None
    publishes = [s for s in _exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    [publish] = [s for s in publishes if (s.attributes or {})["messaging.message.id"] == properties.message_id]
    assert publish.name == f"publish {EXCHANGE}"
    assert hex_id(publish.context.trace_id, 32) == TRACE_ID
    assert publish.parent is not None and publish.parent.span_id == use_case.context.span_id
    attributes = dict(publish.attributes or {})
    assert attributes["messaging.system"] == "rabbitmq"
    assert attributes["messaging.destination.name"] == EXCHANGE
    assert attributes["messaging.rabbitmq.destination.routing_key"] == "order.placed"
    assert attributes["messaging.message.id"] == properties.message_id
    headers = properties.headers or {}
    assert headers["traceparent"] == f"00-{TRACE_ID}-{hex_id(publish.context.span_id, 16)}-01"


def test_a_webhook_request_carries_the_traceparent_of_its_client_span(spans: InMemorySpanExporter) -> None:
    sender = SafeSender(SystemResolver(), user_agent="shop-webhooks/test", allow_private=True)
    with receiving() as receiver:
        answer = sender.send(receiver.url, b"{}", {"traceparent": TRACEPARENT, "webhook-id": "1"})
        [request] = receiver.wait_for(1)

    assert answer.status_code == 200
    [client] = spans.get_finished_spans()
    assert (client.name, client.kind) == ("POST", SpanKind.CLIENT)
    assert hex_id(client.context.trace_id, 32) == TRACE_ID
    assert client.parent is not None and hex_id(client.parent.span_id, 16) == PARENT_ID
    assert request.headers["traceparent"] == f"00-{TRACE_ID}-{hex_id(client.context.span_id, 16)}-01"
    attributes = dict(client.attributes or {})
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "127.0.0.1"
    assert not any("url" in name for name in attributes)  # a webhook URL may hold a token


def test_json_logs_inside_a_span_carry_its_trace_and_span_ids(spans: InMemorySpanExporter) -> None:
    configure_logging("INFO")
    out = io.StringIO()
    tracer = trace.get_tracer("test")
    with redirect_stdout(out), tracer.start_as_current_span("job") as span:
        logging.getLogger("shop.test").info("inside")
    with redirect_stdout(out):
        logging.getLogger("shop.test").info("outside")

    inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    ids = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (hex_id(ids.trace_id, 32), hex_id(ids.span_id, 16))
    assert "trace_id" not in outside


def test_with_tracing_off_nothing_is_stored_or_sent() -> None:
    assert not context.enabled()
    assert context.carrier() == {}
    assert context.current_ids() is None
    with context.publishing(EXCHANGE, "order.placed", "id", {}) as headers:
        assert headers == {}
    assert context.encode({}) is None


def test_tracing_is_wanted_only_with_an_endpoint_and_not_disabled() -> None:
    assert not tracing.wanted({})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_TRACES_EXPORTER": "none"})


def test_the_outbox_and_the_deliveries_keep_the_context_on_every_backend(
    spans: InMemorySpanExporter, uow_factory: UowFactory
) -> None:
    endpoint = WebhookEndpoint(
        url="https://hooks.example.com/a", event_types=("order.*",), secret=Secret(bytes(32)), created_at=NOW
    )
    with uow_factory() as uow:
        uow.webhooks.add(endpoint)
        uow.commit()
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("request") as span, uow_factory() as uow:
        uow.outbox.add([Message("order.placed", "order", 1, NOW + timedelta(seconds=1), {"id": 1})])
        uow.commit()
    ids = span.get_span_context()
    expected = f"00-{hex_id(ids.trace_id, 32)}-{hex_id(ids.span_id, 16)}-{hex_id(ids.trace_flags, 2)}"
    with uow_factory() as uow:
        [entry] = uow.outbox.pending(10)
    assert entry.trace_context == {"traceparent": expected}

    assert fan_out(uow=uow_factory(), clock=SystemClock(), limit=10) == 1
    with uow_factory() as uow:
        [claimed] = uow.deliveries.claim(datetime.now(UTC) + timedelta(days=1), datetime.now(UTC), 10, {}, 1)
    assert claimed.trace_context == {"traceparent": expected}


def test_with_no_endpoint_no_process_imports_opentelemetry(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from shop.entrypoints.app import create_app\n"
        "from shop.entrypoints import relay, webhooks, tracing\n"
        "app = create_app()\n"
        "assert not tracing.start(tracing.RELAY)\n"
        "loaded = sorted(name for name in sys.modules if name.startswith('opentelemetry'))\n"
        "assert not loaded, loaded\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_") and key != "DATABASE_URL"}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'shop.db'}", SHOP_VAR_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_use_case_inside_an_unsampled_request_makes_no_span(spans: InMemorySpanExporter) -> None:
    def place_something() -> str:
        return "placed"

    place_something.__module__ = "shop.application.orders"
    traced = tracing._traced(place_something, place_something)
    unsampled = trace.NonRecordingSpan(
        trace.SpanContext(int(TRACE_ID, 16), int(PARENT_ID, 16), is_remote=True, trace_flags=trace.TraceFlags(0))
    )
    with trace.use_span(unsampled):
        assert traced() == "placed"
    assert spans.get_finished_spans() == ()
    assert traced() == "placed"  # outside any request: a span of its own
    assert [s.name for s in spans.get_finished_spans()] == ["place_something"]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[SpanKind]:
    """The kind of every span any tracer starts, recorded or not."""
    from opentelemetry.sdk.trace import Tracer

    kinds: list[SpanKind] = []
    start_span = Tracer.start_span

    def counting(self: Tracer, name: str, *args: Any, **kwargs: Any) -> Any:
        kinds.append(kwargs.get("kind", args[1] if len(args) > 1 else SpanKind.INTERNAL))
        return start_span(self, name, *args, **kwargs)

    monkeypatch.setattr(Tracer, "start_span", counting)
    return kinds


@pytest.mark.postgres
def test_an_unsampled_request_starts_no_span_at_all(api: Api, started: list[SpanKind]) -> None:
    """The sampler is asked before flask's instrumentation: a request it leaves out starts no span, not
    even a non-recording server span, and psycopg and redis, which test for suppressed instrumentation
    before anything else, start none under it. The outbox still carries the unsampled traceparent on
    (so the relay's publish stays out of the trace too), and the request's log lines its trace id."""
    token, _spans = place_order(api)
    [product] = api.call("GET", "/products/", token).get_json()
    unsampled = f"00-{TRACE_ID}-{PARENT_ID}-00"

    started.clear()
    _exporter.clear()
    assert api.call("GET", f"/products/{product['id']}/", token, headers={"traceparent": unsampled}).status_code == 200
    body = {"items": [{"product": product["id"], "quantity": 1}]}
    lines = io.StringIO()
    with redirect_stdout(lines):
        placed = api.call("POST", "/orders/", token, json=body, headers={"traceparent": unsampled})
    assert placed.status_code == 201
    assert started == []
    assert _exporter.get_finished_spans() == ()
    with container_of(api.client.application).uow() as uow:
        order = f"order:{placed.get_json()['id']}"
        pending = uow.outbox.pending(100)
    [stored] = [e.trace_context for e in pending if e.aggregate == order and e.type == "order.placed"]
    assert stored["traceparent"].split("-")[1] == TRACE_ID and stored["traceparent"].endswith("-00")
    [access] = [line for line in map(json.loads, lines.getvalue().splitlines()) if line.get("status") == 201]
    assert access["trace_id"] == TRACE_ID

    started.clear()
    assert api.call("GET", f"/products/{product['id']}/", token).status_code == 200  # sampled: the control
    assert SpanKind.SERVER in started and SpanKind.CLIENT in started


@pytest.mark.postgres
def test_a_probe_starts_no_span_at_all(api: Api, started: list[SpanKind]) -> None:
    assert api.call("GET", "/health/ready").status_code == 200
    assert started == []


@pytest.mark.postgres
def test_a_request_refused_before_its_view_is_still_a_server_span(api: Api) -> None:
    _exporter.clear()
    response = api.call("GET", "/products/?bogus=1")
    assert response.status_code == 400
    [server] = [s for s in _exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert dict(server.attributes or {})["http.response.status_code"] == response.status_code
