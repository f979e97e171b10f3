"""What operators and their tools ask the service: probes, metrics, and a log line per request.

These routes are not part of the public API (they are left out of its OpenAPI document): they
need no token and are never rate limited. nginx does not expose /metrics; Prometheus scrapes each
replica directly, with METRICS_TOKEN as a bearer token when one is set.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from shop.adapters.prometheus import IN_FLIGHT, exposition, observe_request, outbox_observed
from shop.application.commands import OutboxBacklog
from shop.application.health import check_readiness
from shop.application.messagebus import MessageBus
from shop.application.ports.health import Probe
from shop.application.ports.outbox import Backlog
from shop.container import Container
from shop.entrypoints.api import problems

access_log = logging.getLogger("shop.access")
log = logging.getLogger("shop.ops")

bp = Blueprint("ops", __name__)
# Label values come from fixed sets: a scanner can't create series with made-up paths or methods.
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@bp.get("/health/live")
def live() -> Response:
    """The process is up and answering; says nothing about its dependencies."""
    return Response(orjson.dumps({"status": "ok"}), mimetype="application/json")


@bp.get("/health/ready")
@inject
def ready(probes: list[Probe] = Provide[Container.probes]) -> Response:
    """Send traffic here? 200 when the database answers at the migrations' head (and Redis, when
    configured); 503 with a problem saying what is wrong otherwise."""
    readiness = check_readiness(probes=probes)
    if readiness.ready:
        return Response(
            orjson.dumps({"status": "ready", "checks": dict(readiness.checks)}), mimetype="application/json"
        )
    return problems.problem(
        503,
        "Not ready: " + "; ".join(f"{name}: {why}" for name, why in readiness.problems.items()),
        kind="not-ready",
        title="Service not ready",
        checks=dict(readiness.checks),
        headers={"Retry-After": "5"},
    )


@bp.get("/metrics")
@inject
def metrics(bus: MessageBus = Provide[Container.bus]) -> Response:
    token = current_app.config["SHOP_METRICS_TOKEN"]
    sent = request.headers.get("Authorization", "").encode(errors="surrogateescape")
    if token and not hmac.compare_digest(sent, f"Bearer {token}".encode()):
        return problems.problem(
            401,
            "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    _observe_outbox(lambda: bus.handle(OutboxBacklog()))
    body, content_type = exposition()
    return Response(body, content_type=content_type)


def _observe_outbox(backlog: Callable[[], Backlog]) -> None:
    """The outbox as the database holds it, so its gauges grow even when no relay runs. The database
    down: the rest of the metrics are still served (readiness reports the database)."""
    try:
        waiting = backlog()
    except SQLAlchemyError as error:
        log.warning("metrics: the outbox could not be read: %s", type(error).__name__)
        return
    age = (datetime.now(UTC) - waiting.oldest).total_seconds() if waiting.oldest is not None else 0.0
    outbox_observed(waiting.pending, max(age, 0.0))


def _start_clock() -> None:
    g.started = time.perf_counter()
    IN_FLIGHT.inc()


def _finished(_error: BaseException | None) -> None:
    """Teardown runs whatever happened to the request, so the in-flight count can't drift."""
    if "started" in g:
        IN_FLIGHT.dec()


def _record(response: Response) -> Response:
    """Runs after every other response hook, so it sees the final status (a 304, a 429...)."""
    # Each use of the `request` and `g` proxies costs a lookup: resolve them once.
    current, context = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
    seconds = time.perf_counter() - getattr(context, "started", time.perf_counter())
    rule = current.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    method = current.method
    status = response.status_code
    observe_request(route, method if method in METHODS else "other", status, seconds)
    actor = getattr(context, "actor", None)
    # A refused request (503 while a dependency is down, a 500) is a warning, and only this one line.
    access_log.log(
        logging.WARNING if status >= 500 else logging.INFO,
        "request",
        extra={
            "method": method,
            "route": route,
            "path": current.path,
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
            "user_id": actor.user_id if actor is not None else None,
            "remote_addr": current.remote_addr,
        },
    )
    return response


def init_ops(app: Flask, metrics_token: str) -> None:
    """Register first: before_request hooks run in order, after_request hooks in reverse, so the
    clock starts before any other hook and the record is taken after all of them."""
    app.config["SHOP_METRICS_TOKEN"] = metrics_token
    app.before_request(_start_clock)
    app.after_request(_record)
    app.teardown_request(_finished)
    app.register_blueprint(bp)
