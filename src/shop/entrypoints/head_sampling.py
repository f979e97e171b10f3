"""The sampler asked once per request, before flask's instrumentation: a request it leaves out skips
that instrumentation whole, and pays a few calls instead of the ~660 the instrumentation makes to
build a span nobody records (docs/decisions.md, "Head sampling before the server span").

Imported only when tracing is on (shop.entrypoints.tracing), so a service without tracing never
imports OpenTelemetry. The decision is the configured sampler's own, made with the inputs the SDK
would give it for the server span: the remote parent from the request's headers, or, for a root
request, a trace id drawn here. A request let through gets that very trace id for its server span
(`PresetTraceIds`), so the SDK's sampler, asked again, says yes again: a ratio stays the ratio, and
the trace id stays the one a ratio sampler downstream decides on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from flask import Flask, request
from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.instrumentation.wsgi import wsgi_getter
from opentelemetry.propagate import extract
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, StaticSampler, TraceIdRatioBased
from opentelemetry.util.http import parse_excluded_urls

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# The environ key that says the request runs untraced: the instrumentation's hooks then do nothing.
QUIET = "shop.tracing.quiet"
# The samplers OTEL_TRACES_SAMPLER names: each decides on the parent and the trace id alone, so the
# decision can be made before the span's name and attributes are known. Any other (a plugin's) is
# asked by the SDK itself, with everything, on every request.
_PREDICTABLE = (ParentBased, TraceIdRatioBased, StaticSampler)
_preset: ContextVar[int | None] = ContextVar("shop.tracing.preset_trace_id", default=None)


class PresetTraceIds(RandomIdGenerator):
    """Random ids, except that the first trace id asked for inside a request the head sampler let
    through is the one it judged."""

    def generate_trace_id(self) -> int:
        preset = _preset.get()
        if preset is None:
            return super().generate_trace_id()
        _preset.set(None)
        return preset


class HeadSampling:
    """A WSGI app in front of two: `traced` (flask's instrumentation around the app) for the requests
    the sampler keeps, `plain` (the app alone) for the others and for the probes and scrapes.

    An unsampled request still runs inside a span context, non-recording, with the trace id the sampler
    judged (its parent's, or the one drawn), exactly what the SDK would have made: its log lines carry
    the trace id, and the outbox keeps its traceparent with flags 00, so the relay's publish stays out of
    the trace too. Instrumentation is suppressed for it (and for the probes), which psycopg's and redis's
    instrumentations test before anything else."""

    def __init__(self, plain: WsgiApp, traced: WsgiApp, sampler: Sampler, ids: IdGenerator, excluded: str) -> None:
        self.plain, self.traced, self.sampler, self.ids = plain, traced, sampler, ids
        self.excluded = parse_excluded_urls(excluded)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        incoming = environ  # (not `environ.get("...")`: tests/deploy reads that as a setting)
        if self.excluded is not None and self.excluded.url_disabled(incoming.get("PATH_INFO", "")):
            return self._quietly(environ, start_response, None)
        parent = extract(environ, getter=wsgi_getter) if "HTTP_TRACEPARENT" in environ else None
        remote = trace.get_current_span(parent).get_span_context() if parent is not None else trace.INVALID_SPAN_CONTEXT
        root = not remote.is_valid
        trace_id = self.ids.generate_trace_id() if root else remote.trace_id
        method = incoming.get("REQUEST_METHOD", "GET")
        decision = self.sampler.should_sample(parent, trace_id, method, kind=trace.SpanKind.SERVER)
        if decision.decision is not Decision.DROP:
            token = _preset.set(trace_id if root else None)
            try:
                return self.traced(environ, start_response)
            finally:
                _preset.reset(token)
        span = trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id,
                self.ids.generate_span_id(),
                is_remote=False,
                trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
                trace_state=decision.trace_state,
            )
        )
        return self._quietly(environ, start_response, trace.set_span_in_context(span, parent))

    def _quietly(
        self, environ: dict[str, Any], start_response: Callable[..., Any], within: context.Context | None
    ) -> Iterable[bytes]:
        environ[QUIET] = True
        token = context.attach(within) if within is not None else None
        try:
            with suppress_instrumentation():
                return self.plain(environ, start_response)
        finally:
            if token is not None:
                context.detach(token)


def install(app: Flask, instrument: Callable[[], object], excluded: str, provider: object) -> bool:
    """Instrument `app` (flask's instrumentation, through `instrument`) behind the head sampler, when
    the tracer provider's sampler can be asked before the span: the instrumentation's request hooks
    are made to skip the requests that run untraced. Whether the head sampler was put in front."""
    plain = app.wsgi_app
    before, teardown = list(app.before_request_funcs[None]), list(app.teardown_request_funcs[None])
    instrument()
    sampler, ids = getattr(provider, "sampler", None), getattr(provider, "id_generator", None)
    if not (isinstance(sampler, _PREDICTABLE) and isinstance(ids, PresetTraceIds)):
        return False
    app.before_request_funcs[None] = [h if h in before else _unless_quiet(h) for h in app.before_request_funcs[None]]
    app.teardown_request_funcs[None] = [
        h if h in teardown else _unless_quiet(h) for h in app.teardown_request_funcs[None]
    ]
    app.wsgi_app = HeadSampling(plain, app.wsgi_app, sampler, ids, excluded)  # type: ignore[method-assign]
    return True


def _unless_quiet(hook: Callable[..., Any]) -> Callable[..., Any]:
    """One of the instrumentation's request hooks, skipped in a request that runs untraced."""

    def guarded(*args: Any) -> Any:
        if request.environ.get(QUIET):
            return None
        return hook(*args)

    guarded.__name__ = getattr(hook, "__name__", "hook")
    return guarded
