"""`shop webhooks`: the process that delivers webhooks, with its own small HTTP server for probes and
metrics (WEBHOOKS_HOST:WEBHOOKS_PORT): /health/live, /health/ready, /metrics."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shop.adapters.prometheus import WebhookMetrics
from shop.application import commands
from shop.application.webhooks import DelivererStatus, WebhookHealth
from shop.container import Container
from shop.entrypoints import tracing
from shop.entrypoints.settings import Settings

log = logging.getLogger("shop.webhooks")

# Liveness: a loop that has not come round for this long is stuck (its longest wait is a few seconds).
STUCK_AFTER_S = 60.0


def run(settings: Settings) -> None:
    """Deliver until SIGTERM or SIGINT; attempts under way are finished first (15 s at most)."""
    # A connection for each attempt recording its outcome, and for the loop's claims.
    settings = replace(settings, db_pool_size=max(settings.db_pool_size, settings.webhook_concurrency + 2))
    tracing.start(tracing.WEBHOOKS)
    container = Container()
    container.config.from_dict(asdict(settings))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())

    metrics = WebhookMetrics()
    deliverer = container.deliverer(wait=stop.wait, metrics=metrics)

    def health() -> WebhookHealth:
        found: WebhookHealth = container.bus().handle(commands.WebhookHealthQuery())
        return found

    server = ThreadingHTTPServer(
        (settings.webhooks_host, settings.webhooks_port), _probes(deliverer.status, metrics, health)
    )
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    log.info("webhooks started", extra={"probes": f"http://{settings.webhooks_host}:{server.server_address[1]}"})
    try:
        deliverer.run()
    finally:
        server.shutdown()
        log.info("webhooks stopped")


def _probes(status: DelivererStatus, metrics: WebhookMetrics, health: Any) -> type[BaseHTTPRequestHandler]:
    class Probes(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            if self.path == "/health/live":
                stuck = time.monotonic() - status.last_round > STUCK_AFTER_S
                self._json(503 if stuck else 200, {"status": "stuck" if stuck else "ok"})
            elif self.path == "/health/ready":
                ready = status.problem is None and status.last_success is not None
                body: dict[str, Any] = {"status": "ready" if ready else "not ready"}
                if not ready:
                    body["detail"] = status.problem or "starting"
                self._json(200 if ready else 503, body)
            elif self.path == "/metrics":
                try:
                    metrics.observe(health(), datetime.now(UTC))
                except Exception:  # the database: the counters still answer, the gauges keep their last values
                    log.warning("webhooks: could not read the backlog for /metrics", exc_info=True)
                payload, content_type = metrics.exposition()
                self._send(200, payload, content_type)
            else:
                self._json(404, {"status": "not found"})

        def _json(self, code: int, body: dict[str, Any]) -> None:
            self._send(code, json.dumps(body).encode(), "application/json")

        def _send(self, code: int, payload: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # probes every few seconds would drown the deliverer's own lines

    return Probes
