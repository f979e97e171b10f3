"""Trace context across processes: what the outbox and the webhook deliveries keep, what the AMQP
messages and the webhook requests carry (W3C Trace Context: `traceparent`, `tracestate`), and the
spans of the relay's publishes and the deliverer's requests.

Tracing is switched on by shop.entrypoints.tracing, once per process, when an OTLP endpoint is
configured. Until then nothing here imports OpenTelemetry and each function is one flag test, so a
service without tracing pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson

# The two headers of W3C Trace Context: all a stored context keeps (never baggage, which may hold
# anything a caller put there).
TRACE_HEADERS = ("traceparent", "tracestate")
AMQP_EXCHANGE_TRACER = "shop.relay"
WEBHOOK_TRACER = "shop.webhooks"

_state = {"on": False}


def enable() -> None:
    _state["on"] = True


def disable() -> None:
    _state["on"] = False


def enabled() -> bool:
    return _state["on"]


def carrier() -> dict[str, str]:
    """The current span's context as W3C headers; empty with tracing off or outside any span."""
    if not _state["on"]:
        return {}
    from opentelemetry.propagate import inject

    headers: dict[str, str] = {}
    inject(headers)
    return {name: headers[name] for name in TRACE_HEADERS if name in headers}


def encode(context: Mapping[str, str]) -> str | None:
    """A stored trace context, as the outbox and the deliveries keep it (NULL for none)."""
    return orjson.dumps(dict(context)).decode() if context else None


def decode(stored: str | None) -> dict[str, str]:
    if not stored:
        return {}
    found = orjson.loads(stored)
    return {name: str(found[name]) for name in TRACE_HEADERS if isinstance(found, dict) and name in found}


def current_ids() -> tuple[str, str] | None:
    """The trace id and span id (lower-case hex, as OTLP back ends show them) of the current span."""
    if not _state["on"]:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


@contextmanager
def publishing(exchange: str, routing_key: str, message_id: str, stored: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """A PRODUCER span for one AMQP publish, a child of the context stored with the message (so the
    publish belongs to the trace of the request that made it); yields the headers to send with it."""
    if not _state["on"]:
        yield dict(stored)
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    attributes: dict[str, Any] = {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "send",
        "messaging.operation.name": "publish",
        "messaging.destination.name": exchange,
        "messaging.rabbitmq.destination.routing_key": routing_key,
        "messaging.message.id": message_id,
    }
    tracer = trace.get_tracer(AMQP_EXCHANGE_TRACER)
    with tracer.start_as_current_span(
        f"publish {exchange}", context=extract(stored), kind=trace.SpanKind.PRODUCER, attributes=attributes
    ):
        yield carrier()


@contextmanager
def webhook_request(host: str, port: int, headers: Mapping[str, str]) -> Iterator[tuple[dict[str, str], Any]]:
    """A CLIENT span for one webhook request, a child of the context its headers carry (the delivery's);
    yields the headers to send, with this span's traceparent, and a function taking the status code.
    No URL path or query is recorded: a webhook URL may hold a token."""
    if not _state["on"]:
        yield dict(headers), lambda _status: None
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    attributes: dict[str, Any] = {"http.request.method": "POST", "server.address": host, "server.port": port}
    tracer = trace.get_tracer(WEBHOOK_TRACER)
    parent = extract({name: headers[name] for name in TRACE_HEADERS if name in headers})
    with tracer.start_as_current_span(
        "POST", context=parent, kind=trace.SpanKind.CLIENT, attributes=attributes
    ) as span:

        def answered(status: int | None) -> None:
            if status is None:
                span.set_attribute("error.type", "no answer")
                span.set_status(trace.StatusCode.ERROR)
                return
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_attribute("error.type", str(status))
                span.set_status(trace.StatusCode.ERROR)

        yield {**{k: v for k, v in headers.items() if k not in TRACE_HEADERS}, **carrier()}, answered
