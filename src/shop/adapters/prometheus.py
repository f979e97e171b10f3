"""Prometheus metrics: every series the service exposes at /metrics is declared here.

Under gunicorn each worker is a process of its own. gunicorn_conf points PROMETHEUS_MULTIPROC_DIR
at a directory before anything imports prometheus-client; each worker then keeps its values in
files there, and `exposition()` adds up the files of every worker, live or dead (gauges: live
workers only), through the library's public multiprocess API alone. Without that variable (tests,
`flask run`) the values live in this process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import Engine, event

from shop.application.webhooks import WebhookHealth
from shop.domain.webhooks import DeliveryStatus

if _directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # The metrics below open their files there as they are declared: a process started with the
    # variable but without gunicorn_conf (`shop migrate` in the same container) must not crash.
    os.makedirs(_directory, exist_ok=True)

HTTP_REQUESTS = Counter(
    "shop_http_requests", "HTTP requests answered, by route template, method and status.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "shop_http_request_duration_seconds",
    "Time from the request reaching the application to its response, by route template and method.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge(
    "shop_http_requests_in_flight",
    "Requests being handled now; divided by shop_request_slots, how saturated the service is.",
    multiprocess_mode="livesum",
)
WORKERS = Gauge("shop_workers", "gunicorn worker processes serving requests.", multiprocess_mode="livesum")
SLOTS = Gauge(
    "shop_request_slots",
    "Requests the live workers can handle at once (their threads).",
    multiprocess_mode="livesum",
)
ORDERS_PLACED = Counter("shop_orders_placed", "Orders placed (committed).")
ORDERS_CANCELLED = Counter("shop_orders_cancelled", "Orders cancelled; their stock went back.")
ORDERS_FULFILLED = Counter("shop_orders_fulfilled", "Orders fulfilled by a manager.")
STOCK_REJECTIONS = Counter("shop_order_stock_rejections", "Orders refused because stock was short.")
LOGIN_FAILURES = Counter("shop_login_failures", "Logins refused: unknown user, inactive user or wrong password.")
DB_CONNECTIONS = Gauge(
    "shop_db_connections_in_use",
    "Database connections checked out of the pool, by pool (writer: transactions, reader: read-only).",
    ["pool"],
    multiprocess_mode="livesum",
)

# The outbox, read from the database when /metrics is scraped: it grows even when no relay runs.
OUTBOX_PENDING = Gauge(
    "shop_outbox_pending", "Events committed but not yet confirmed by the broker.", multiprocess_mode="mostrecent"
)
OUTBOX_OLDEST = Gauge(
    "shop_outbox_oldest_pending_seconds",
    "Age of the oldest event still waiting for the relay; 0 when none waits.",
    multiprocess_mode="mostrecent",
)

# Streaming replicas (DATABASE_REPLICA_URLS): where reads went, and how far behind each replica is.
DB_READS = Counter(
    "shop_db_reads",
    "Units of work that only read, by the server that served them: primary, or a replica's name.",
    ["server"],
)
REPLICA_LAG = Gauge(
    "shop_replica_lag_seconds",
    "How far behind the primary each replica was at its last poll; -1 while it can't be reached.",
    ["replica"],
    multiprocess_mode="livemax",
)


class ReplicaMetrics:
    """The read router's series (shop.adapters.sql.replicas.ReadMetrics)."""

    def read_served(self, source: str) -> None:
        DB_READS.labels(source).inc()

    def replica_lag(self, replica: str, seconds: float | None) -> None:
        REPLICA_LAG.labels(replica).set(-1 if seconds is None else seconds)


class PrometheusMetrics:
    """The application's Metrics port, counted in Prometheus."""

    def order_placed(self) -> None:
        ORDERS_PLACED.inc()

    def order_cancelled(self) -> None:
        ORDERS_CANCELLED.inc()

    def order_fulfilled(self) -> None:
        ORDERS_FULFILLED.inc()

    def stock_rejected(self) -> None:
        STOCK_REJECTIONS.inc()

    def login_failed(self) -> None:
        LOGIN_FAILURES.inc()


def outbox_observed(pending: int, oldest_age_seconds: float) -> None:
    OUTBOX_PENDING.set(pending)
    OUTBOX_OLDEST.set(oldest_age_seconds)


def worker_started(slots: int = 1) -> None:
    """Called in each gunicorn worker once it serves; its values go when the worker is retired."""
    WORKERS.set(1)
    SLOTS.set(slots)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_LATENCY.labels(route, method).observe(seconds)


def watch_pool(engine: Engine, pool: str) -> Engine:
    """Count the engine's checked-out connections. The listeners come after make_engine's idle
    ping, so a checkout that fails its ping (and is retried on a new connection) counts once."""
    in_use = DB_CONNECTIONS.labels(pool)

    def _checked_out(*_args: Any) -> None:
        in_use.inc()

    def _checked_in(*_args: Any) -> None:
        in_use.dec()

    event.listen(engine, "checkout", _checked_out)
    event.listen(engine, "checkin", _checked_in)
    return engine


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, summed over the gunicorn workers when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return _generate_latest(registry), CONTENT_TYPE_LATEST
    return _generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def retire_process(pid: int) -> None:
    """A gunicorn worker is gone (killed or crashed): its gauges stop counting. Its counters and
    histograms stay in their files, so the totals don't go backwards; workers are not recycled
    after a number of requests, so such files come only with a dead worker."""
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


class RelayMetrics:
    """The relay's own series, in a registry of its own: its /metrics shows these and nothing of the
    API's, and the API, which never makes one, shows none of them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._published = Counter(
            "shop_events_published", "Events the broker confirmed, by type.", ["type"], registry=self.registry
        )
        self._leader = Gauge(
            "shop_relay_leader",
            "1 while this relay is the one publishing, 0 while it stands by.",
            registry=self.registry,
        )

    def published(self, types: Sequence[str]) -> None:
        for kind in types:
            self._published.labels(kind).inc()

    def leader(self, leading: bool) -> None:
        self._leader.set(1 if leading else 0)

    def exposition(self) -> tuple[bytes, str]:
        return _generate_latest(self.registry), CONTENT_TYPE_LATEST


class WebhookMetrics:
    """The deliverer's own series, in a registry of its own like the relay's. Counted as attempts end;
    the backlog and the endpoints' standing are read from the database at each scrape (`observe`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._attempts = Counter(
            "shop_webhook_deliveries",
            "Delivery attempts, by outcome (succeeded, retrying: to be tried again, failed: given up) and event type.",
            ["outcome", "event_type"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "shop_webhook_attempt_duration_seconds",
            "Time an attempt took, from resolving the endpoint's name to its answer.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
            registry=self.registry,
        )
        self._latency = Histogram(
            "shop_webhook_delivery_latency_seconds",
            "Time from a delivery being made to its success, retries included.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0, 36000.0),
            registry=self.registry,
        )
        self._disabled = Counter(
            "shop_webhook_endpoints_disabled",
            "Endpoints the deliverer disabled, by reason (gone: 410, failing: failed for WEBHOOK_DISABLE_AFTER_HOURS).",
            ["reason"],
            registry=self.registry,
        )
        self._endpoints = Gauge(
            "shop_webhook_endpoints",
            "Webhook endpoints, by state (enabled, disabled).",
            ["state"],
            registry=self.registry,
        )
        self._waiting = Gauge(
            "shop_webhook_deliveries_waiting",
            "Deliveries pending or retrying, for enabled endpoints.",
            registry=self.registry,
        )
        self._oldest = Gauge(
            "shop_webhook_oldest_waiting_seconds",
            "Age of the oldest delivery still pending or retrying for an enabled endpoint; 0 when none.",
            registry=self.registry,
        )
        self._failing = Gauge(
            "shop_webhook_endpoint_failing_seconds",
            "How long an enabled endpoint's attempts have all failed, by endpoint id; absent while it succeeds.",
            ["endpoint"],
            registry=self.registry,
        )

    def attempted(self, event_type: str, outcome: DeliveryStatus, seconds: float) -> None:
        self._attempts.labels(outcome.value, event_type).inc()
        self._duration.observe(seconds)

    def delivered(self, latency_seconds: float) -> None:
        self._latency.observe(latency_seconds)

    def disabled(self, reason: str) -> None:
        self._disabled.labels(reason).inc()

    def observe(self, health: WebhookHealth, now: datetime) -> None:
        """What the database says now: webhook_health()'s backlog and standings."""
        standings = health.standings
        self._endpoints.labels("enabled").set(sum(1 for s in standings if s.enabled))
        self._endpoints.labels("disabled").set(sum(1 for s in standings if not s.enabled))
        self._waiting.set(health.backlog.waiting)
        oldest = health.backlog.oldest
        self._oldest.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        self._failing.clear()
        for standing in standings:
            if standing.enabled and standing.failing_since is not None:
                self._failing.labels(str(standing.endpoint_id)).set((now - standing.failing_since).total_seconds())

    def exposition(self) -> tuple[bytes, str]:
        return _generate_latest(self.registry), CONTENT_TYPE_LATEST
