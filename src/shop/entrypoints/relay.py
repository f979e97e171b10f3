"""`shop relay`: the process that publishes the outbox to RabbitMQ, with its own small HTTP server
for probes and metrics (RELAY_HOST:RELAY_PORT): /health/live, /health/ready, /metrics."""

from __future__ import annotations

import errno
import json
import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shop.adapters.prometheus import RelayMetrics
from shop.application.messages import OutboxEntry
from shop.application.relay import RelayStatus
from shop.container import Container
from shop.entrypoints import tracing
from shop.entrypoints.settings import Settings, SettingsError

log = logging.getLogger("shop.relay")

# Liveness: a loop that has not come round for this long is stuck (its longest wait is a few seconds).
STUCK_AFTER_S = 60.0


def run(settings: Settings) -> None:
    """Publish until SIGTERM or SIGINT; the message in flight is finished (or left for the next relay)."""
    server = _listen(settings.relay_host, settings.relay_port)
    tracing.start(tracing.RELAY)
    container = Container()
    container.config.from_dict(asdict(settings))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())

    metrics = RelayMetrics()

    def published(entries: Sequence[OutboxEntry]) -> None:
        metrics.published([entry.type for entry in entries])

    relay = container.relay(wait=stop.wait, on_published=published)
    server.RequestHandlerClass = _probes(relay.status, metrics)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    log.info("relay started", extra={"probes": f"http://{settings.relay_host}:{server.server_address[1]}"})
    try:
        relay.run()
    finally:
        server.shutdown()
        log.info("relay stopped")


def _listen(host: str, port: int) -> ThreadingHTTPServer:
    """The probes' socket, bound before anything else starts: a second relay on one host is told so."""
    try:
        return ThreadingHTTPServer((host, port), BaseHTTPRequestHandler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise SettingsError(
                f"port {port} on {host} is taken: set RELAY_PORT to another port for each relay on one host"
            ) from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise SettingsError(f"RELAY_HOST {host} is not an address of this machine") from None
        raise


def _probes(status: RelayStatus, metrics: RelayMetrics) -> type[BaseHTTPRequestHandler]:
    class Probes(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            metrics.leader(status.leader)
            if self.path == "/health/live":
                stuck = time.monotonic() - status.last_round > STUCK_AFTER_S
                self._json(503 if stuck else 200, {"status": "stuck" if stuck else "ok"})
            elif self.path == "/health/ready":
                ready = status.problem is None and status.last_success is not None
                body: dict[str, Any] = {"status": "ready" if ready else "not ready", "leader": status.leader}
                if not ready:
                    body["detail"] = status.problem or "starting"
                self._json(200 if ready else 503, body)
            elif self.path == "/metrics":
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
            return None  # probes every few seconds would drown the relay's own lines

    return Probes
