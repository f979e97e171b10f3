"""The head sampler: the configured sampler's decision, made before flask's instrumentation, and kept
by the SDK when it asks again; an untraced request still carries the trace context it was judged in."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)

from shop.entrypoints.head_sampling import HeadSampling, PresetTraceIds, install

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


class Seen:
    """What each of the two apps saw: the span the SDK would start for the request inside `traced`,
    the context `plain` ran in."""

    def __init__(self, provider: TracerProvider) -> None:
        self.tracer = provider.get_tracer("test")
        self.traced: list[trace.Span] = []
        self.plain: list[tuple[trace.SpanContext, bool]] = []

    def traced_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        parent = None
        if "HTTP_TRACEPARENT" in environ:
            from opentelemetry.propagate import extract

            parent = extract({"traceparent": environ["HTTP_TRACEPARENT"]})
        with self.tracer.start_as_current_span("GET /x", context=parent, kind=trace.SpanKind.SERVER) as span:
            self.traced.append(span)
        return [b"traced"]

    def plain_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.plain.append((trace.get_current_span().get_span_context(), bool(get_value(_SUPPRESS_INSTRUMENTATION_KEY))))
        return [b"plain"]


def front(sampler: Sampler) -> tuple[HeadSampling, Seen]:
    ids = PresetTraceIds()
    provider = TracerProvider(sampler=sampler, id_generator=ids)
    seen = Seen(provider)
    return HeadSampling(seen.plain_app, seen.traced_app, sampler, ids, "health/live,metrics"), seen


def call(app: HeadSampling, path: str = "/products/", **headers: str) -> bytes:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    return b"".join(app(environ, lambda *_args: None))


def test_root_requests_are_kept_at_the_ratio_with_the_trace_id_the_sampler_judged() -> None:
    random.seed(7)
    ratio = TraceIdRatioBased(0.25)
    app, seen = front(ParentBased(ratio))

    answers = [call(app) for _ in range(400)]

    assert answers.count(b"traced") == len(seen.traced) and answers.count(b"plain") == len(seen.plain)
    assert 60 <= len(seen.traced) <= 140  # 100 expected
    for span in seen.traced:  # the SDK, asked again, agreed: every span the front let through records
        assert not isinstance(span, trace.NonRecordingSpan) and span.get_span_context().trace_flags.sampled
        judged = ratio.should_sample(None, span.get_span_context().trace_id, "GET").decision
        assert judged is Decision.RECORD_AND_SAMPLE
    for context, suppressed in seen.plain:
        assert context.is_valid and not context.trace_flags.sampled and suppressed
        assert ratio.should_sample(None, context.trace_id, "GET").decision is Decision.DROP


def test_a_remote_parent_decides_and_its_trace_id_is_kept() -> None:
    app, seen = front(ParentBased(TraceIdRatioBased(0.0)))

    assert call(app, traceparent=f"00-{TRACE_ID}-{PARENT_ID}-01") == b"traced"
    assert call(app, traceparent=f"00-{TRACE_ID}-{PARENT_ID}-00") == b"plain"

    [span] = seen.traced
    assert format(span.get_span_context().trace_id, "032x") == TRACE_ID
    [(context, suppressed)] = seen.plain
    assert format(context.trace_id, "032x") == TRACE_ID and context.span_id != int(PARENT_ID, 16)
    assert not context.trace_flags.sampled and suppressed


def test_a_malformed_traceparent_makes_a_root_request() -> None:
    app, seen = front(ParentBased(ALWAYS_ON))

    assert call(app, traceparent="00-not-a-context-01") == b"traced"
    assert seen.traced[0].get_span_context().trace_id != int(TRACE_ID, 16)


def test_probes_and_scrapes_run_untraced_outside_any_span() -> None:
    app, seen = front(ParentBased(ALWAYS_ON))

    assert call(app, "/health/live") == b"plain" and call(app, "/metrics") == b"plain"
    assert seen.traced == [] and [suppressed for _context, suppressed in seen.plain] == [True, True]
    assert not any(context.is_valid for context, _suppressed in seen.plain)


def test_the_preset_trace_id_is_used_once_and_only_in_the_request_let_through() -> None:
    random.seed(11)
    app, seen = front(ParentBased(ALWAYS_ON))
    call(app)
    [span] = seen.traced
    tracer = seen.tracer
    with tracer.start_as_current_span("later, outside any request") as later:
        assert later.get_span_context().trace_id != span.get_span_context().trace_id


class Plugin(Sampler):
    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "a plugin's"


def instrumented(app: Flask, sampler: Sampler) -> list[str]:
    """Installs a stand-in instrumentation on `app`, the way flask's registers itself; what ran."""
    ran: list[str] = []

    def instrument() -> None:
        inner = app.wsgi_app
        app.before_request(lambda: ran.append("instrumentation before"))
        app.teardown_request(lambda _error: ran.append("instrumentation teardown"))

        def traced(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            ran.append("instrumentation wsgi")
            return inner(environ, start_response)

        app.wsgi_app = traced  # type: ignore[method-assign]

    install(app, instrument, "metrics", TracerProvider(sampler=sampler, id_generator=PresetTraceIds()))
    return ran


def test_install_fronts_the_instrumentation_and_quiets_its_hooks_for_untraced_requests() -> None:
    app = Flask("test")
    app.before_request(lambda: None)
    app.get("/x")(lambda: "x")
    ran = instrumented(app, ParentBased(TraceIdRatioBased(0.0)))
    client = app.test_client()

    assert client.get("/x").status_code == 200
    assert ran == []
    assert client.get("/x", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}).status_code == 200
    assert ran == ["instrumentation wsgi", "instrumentation before", "instrumentation teardown"]


def test_install_leaves_a_sampler_it_cannot_predict_to_the_sdk() -> None:
    app = Flask("test")
    app.get("/x")(lambda: "x")
    ran = instrumented(app, Plugin())

    assert app.test_client().get("/x").status_code == 200
    assert ran == ["instrumentation wsgi", "instrumentation before", "instrumentation teardown"]
