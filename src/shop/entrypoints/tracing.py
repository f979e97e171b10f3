"""OpenTelemetry for each process: the SDK, the OTLP exporter and the instrumentations, configured by
the standard OTEL_* environment variables alone.

Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and
OTEL_SDK_DISABLED is not true); off, not even the SDK is imported. On, each process names itself
(shop-api, shop-relay, shop-webhooks) unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES names it,
samples as OTEL_TRACES_SAMPLER says (parentbased_always_on by default: an incoming traceparent's
decision is kept) and exports in batches over OTLP/HTTP.

In the API, flask's instrumentation makes the server span of each request (health probes and
/metrics left out), psycopg's a span for each SQL statement, redis's one for each command, and each
command the bus handles runs in a span named after its use case. The relay and the deliverer trace
their publishes and their webhook requests (shop.adapters.tracing), not their polling.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask, request

from shop.adapters import tracing
from shop.entrypoints.settings import SettingsError

API, RELAY, WEBHOOKS = "shop-api", "shop-relay", "shop-webhooks"
# The current semantic conventions for HTTP (http.route, http.response.status_code...) and, beside the
# current ones for databases, the older db.system that back ends still key on. An operator's
# OTEL_SEMCONV_STABILITY_OPT_IN wins.
SEMCONV = "http,database/dup"
# Probes and scrapes: a span every few seconds from every replica would bury the requests.
EXCLUDED_URLS = "health/live,health/ready,metrics"
_instrumented = {"provider": False, "libraries": False}


def wanted(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def start(service_name: str, exporter: Any = None) -> bool:
    """Switch tracing on for this process if the environment asks for it (or an exporter is given: the
    tests' in-memory one, exporting each span as it ends); whether tracing is on. Once per process."""
    if tracing.enabled():
        return True
    if exporter is None and not wanted():
        return False
    if _instrumented["provider"]:  # the tests switch tracing off and on again
        tracing.enable()
        return True
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", SEMCONV)
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    named = bool(os.environ.get("OTEL_SERVICE_NAME")) or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    from shop.entrypoints.head_sampling import PresetTraceIds

    resource = Resource.create({} if named else {"service.name": service_name})
    provider = TracerProvider(resource=resource, id_generator=PresetTraceIds())
    if exporter is None:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrumented["provider"] = True
    tracing.enable()
    return True


def _otlp_exporter() -> Any:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    )
    if protocol not in ("", "http/protobuf"):
        raise SettingsError(f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r}: shop exports over http/protobuf only")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout, compression: the OTEL_EXPORTER_OTLP_* variables


def instrument_api(app: Flask, container: Any) -> None:
    """The API's spans, when tracing is on: server spans, SQL, Redis and the use cases. Call it before
    any other hook that may answer (trusted hosts, rate limits, bad query parameters): a request such a
    hook refuses is still a server span.

    The sampler is asked first (shop.entrypoints.head_sampling): a request it leaves out, and every
    probe, runs the app without flask's instrumentation, whose hooks then return at once."""
    if not tracing.enabled():
        return
    from opentelemetry import trace
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    from shop.entrypoints import head_sampling

    instrument_libraries()
    fronted = head_sampling.install(
        app,
        lambda: FlaskInstrumentor().instrument_app(  # type: ignore[no-untyped-call]
            app, excluded_urls=EXCLUDED_URLS, enable_commenter=False
        ),
        EXCLUDED_URLS,
        trace.get_tracer_provider(),
    )
    if not fronted:  # a plugin's sampler: it decides inside the server span, and the hooks quiet the rest
        app.before_request(_quiet_unless_recorded)
        app.teardown_request(_end_quiet)  # teardown hooks run in reverse: before the server span ends
    trace_use_cases(container)


_QUIET = "shop.tracing.quiet_context"  # the suppression this request entered


def _quiet_unless_recorded() -> None:
    """A request the SDK's sampler left out, where the head sampler could not ask it first (a plugin's
    sampler), records nothing below its server span: with instrumentation suppressed for it,
    psycopg's and redis's instrumentations, which test for that first, skip their span work for each
    statement and command. The context still holds the unsampled span, so the outbox keeps its
    traceparent (flags 00) and the relay's publish stays out of the trace too."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    if trace.get_current_span().is_recording():
        return
    quiet = suppress_instrumentation()
    quiet.__enter__()
    request.environ[_QUIET] = quiet


def _end_quiet(_error: BaseException | None) -> None:
    quiet = request.environ.pop(_QUIET, None)
    if quiet is not None:
        quiet.__exit__(None, None, None)


def instrument_libraries() -> None:
    """psycopg and redis, process-wide (their connections and clients, made before or after)."""
    if _instrumented["libraries"]:
        return
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    PsycopgInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
    RedisInstrumentor().instrument()
    _instrumented["libraries"] = True


def uninstrument_libraries() -> None:
    if not _instrumented["libraries"]:
        return
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    PsycopgInstrumentor().uninstrument()
    RedisInstrumentor().uninstrument()
    _instrumented["libraries"] = False


def trace_use_cases(container: Any) -> None:
    """Each command the bus handles runs in an INTERNAL span named after its use case, the parent of
    its SQL and Redis spans."""
    from shop.application.handlers import COMMAND_HANDLERS

    bus = container.bus()
    for kind, handler in list(bus.commands.items()):
        if not getattr(handler, "_shop_traced", False):
            bus.commands[kind] = _traced(handler, COMMAND_HANDLERS.get(kind, handler))


def _traced(function: Callable[..., Any], use_case: Callable[..., Any]) -> Callable[..., Any]:
    from opentelemetry import trace

    tracer = trace.get_tracer("shop.application")
    name = use_case.__name__
    attributes = {"code.function.name": f"{use_case.__module__}.{use_case.__qualname__}"}

    def traced(*args: Any, **kwargs: Any) -> Any:
        # Inside a request the sampler left out, a span of its own would be dropped anyway: skip its cost.
        current = trace.get_current_span()
        if current.get_span_context().is_valid and not current.is_recording():
            return function(*args, **kwargs)
        with tracer.start_as_current_span(name, attributes=attributes):
            return function(*args, **kwargs)

    traced.__name__ = name
    traced._shop_traced = True  # type: ignore[attr-defined]
    return traced
