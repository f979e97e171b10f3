"""The real nginx, with deploy/nginx/templates/default.conf.template rendered, in front of a stub replica.

The stub answers every request with what it received (headers, body length) as JSON, and counts
the TCP connections nginx opens to it. nginx is required when SHOP_REQUIRE_NGINX=1 (CI), skipped otherwise when missing.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.nginx import free_port, running_nginx

MIB = 1024 * 1024
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")  # nginx's $request_id


class StubReplica(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.lock = threading.Lock()
        self.connections = 0
        self.paths: list[str] = []

    def new_connection(self) -> None:
        with self.lock:
            self.connections += 1


class _EchoHandler(BaseHTTPRequestHandler):
    # Keeps connections open, as gunicorn's gthread workers do: the test shows nginx reuses them.
    protocol_version = "HTTP/1.1"
    server: StubReplica

    def setup(self) -> None:
        super().setup()
        self.server.new_connection()

    def do_GET(self) -> None:
        self._echo()

    def do_POST(self) -> None:
        self._echo()

    def _echo(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.paths.append(self.path)
        seen = {
            "headers": {name.lower(): self.headers.get_all(name) for name in self.headers},
            "body_length": len(body),
        }
        answer: dict[str, object] = {"seen": seen}
        content_type = "application/json"
        if self.path.startswith("/big"):  # a page of products: large and repetitive
            answer["items"] = [{"id": i, "name": f"product {i}", "price": "9.99"} for i in range(200)]
            content_type = {
                "/big-problem": "application/problem+json",
                "/big-openapi": "application/vnd.oai.openapi+json",
            }.get(self.path, content_type)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if "X-Request-ID" in self.headers:  # the service echoes the id
            self.send_header("X-Request-ID", self.headers["X-Request-ID"])
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def seen(self) -> dict[str, Any]:
        """What the stub replica received, from its answer."""
        seen: dict[str, Any] = json.loads(self.body)["seen"]
        return seen

    def header_seen(self, name: str) -> str:
        values: list[str] | None = self.seen()["headers"].get(name.lower())
        assert values is not None and len(values) == 1, f"{name} reached the replica as {values}"
        return values[0]


@dataclass
class Proxy:
    port: int
    replica: StubReplica
    access_log: Path

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | Iterator[bytes] | None = None,
        **options: bool,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path, body=body, headers=headers or {}, **options)
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    replica = StubReplica()
    threading.Thread(target=replica.serve_forever, daemon=True).start()
    port = free_port()
    try:
        with running_nginx(tmp_path_factory.mktemp("nginx"), [f"127.0.0.1:{replica.server_port}"], port) as log:
            yield Proxy(port, replica, log)
    finally:
        replica.shutdown()
        replica.server_close()


def test_a_valid_client_request_id_reaches_the_replica_and_comes_back(proxy: Proxy) -> None:
    reply = proxy.request("GET", "/orders/", headers={"X-Request-ID": "client-Id_1.2"})

    assert reply.status == 200
    assert reply.header_seen("X-Request-ID") == "client-Id_1.2"
    assert reply.headers.get_all("X-Request-ID") == ["client-Id_1.2"]


@pytest.mark.parametrize("sent", [None, "has spaces", "x" * 65, "semi;colon"])
def test_a_missing_or_malformed_request_id_is_replaced_by_nginx(proxy: Proxy, sent: str | None) -> None:
    reply = proxy.request("GET", "/products/", headers={"X-Request-ID": sent} if sent else {})

    generated = reply.header_seen("X-Request-ID")
    assert GENERATED_ID.match(generated)
    assert reply.headers.get_all("X-Request-ID") == [generated]


def test_the_access_log_is_json_with_the_request_id(proxy: Proxy) -> None:
    proxy.request("GET", '/users/?q="quoted"', headers={"X-Request-ID": "logged-id"})

    deadline = time.monotonic() + 2
    while b"logged-id" not in proxy.access_log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.02)
    entries = [json.loads(line) for line in proxy.access_log.read_text().splitlines()]
    entry = next(e for e in entries if e["request_id"] == "logged-id")
    assert entry["uri"] == '/users/?q="quoted"'
    assert entry["status"] == 200


def test_the_replica_learns_the_client_address_scheme_and_host(proxy: Proxy) -> None:
    reply = proxy.request("GET", "/users/", headers={"Host": "shop.example:8443", "X-Forwarded-For": "203.0.113.9"})

    assert reply.header_seen("Host") == "shop.example:8443"
    assert reply.header_seen("X-Real-IP") == "127.0.0.1"
    # The client's own entry stays first; the one nginx saw is last, where PROXY_HOPS=1 looks.
    assert reply.header_seen("X-Forwarded-For") == "203.0.113.9, 127.0.0.1"
    assert reply.header_seen("X-Forwarded-Proto") == "http"


def test_a_body_of_exactly_one_mib_is_passed_on(proxy: Proxy) -> None:
    reply = proxy.request("POST", "/orders/", body=b"x" * MIB, headers={"Content-Type": "application/json"})

    assert reply.status == 200
    assert reply.seen()["body_length"] == MIB


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_one_mib_is_refused_by_nginx_and_never_reaches_the_replica(proxy: Proxy, chunked: bool) -> None:
    before = len(proxy.replica.paths)
    body = b"x" * (MIB + 1)
    if chunked:
        reply = proxy.request("POST", "/too-big/", body=iter([body[: MIB // 2], body[MIB // 2 :]]), encode_chunked=True)
    else:
        reply = proxy.request("POST", "/too-big/", body=body)

    assert reply.status == 413
    assert GENERATED_ID.match(reply.headers["X-Request-ID"])
    assert len(proxy.replica.paths) == before


@pytest.mark.parametrize("path", ["/big", "/big-problem", "/big-openapi"])
def test_large_json_answers_are_gzipped_for_clients_that_accept_it(proxy: Proxy, path: str) -> None:
    # Via: as if a load balancer stood in front; nginx then compresses only with gzip_proxied.
    reply = proxy.request("GET", path, headers={"Accept-Encoding": "gzip", "Via": "1.1 balancer"})

    assert reply.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in reply.headers["Vary"]
    plain = gzip.decompress(reply.body)
    assert len(json.loads(plain)["items"]) == 200
    assert len(reply.body) < len(plain) / 4


def test_small_answers_and_clients_without_gzip_get_plain_json(proxy: Proxy) -> None:
    small = proxy.request("GET", "/products/1/", headers={"Accept-Encoding": "gzip"})
    large = proxy.request("GET", "/big")

    assert small.headers["Content-Encoding"] is None
    assert large.headers["Content-Encoding"] is None
    assert len(json.loads(large.body)["items"]) == 200


@pytest.mark.parametrize(
    "path",
    [
        "/metrics",
        "/metrics/",
        "/metrics?format=text",
        "//metrics",
        "/%6Detrics",
        "/./metrics",
        "/health/ready",
        "/health/live",
        "//health/ready",
    ],
)
def test_metrics_and_probes_are_not_served_through_nginx(proxy: Proxy, path: str) -> None:
    reply = proxy.request("GET", path)

    assert reply.status == 404
    assert not [seen for seen in proxy.replica.paths if "etrics" in seen]


def test_upstream_connections_are_kept_alive_and_reused(proxy: Proxy) -> None:
    proxy.request("GET", "/products/")  # at least one idle connection to the replica now
    before = proxy.replica.connections

    for i in range(20):
        assert proxy.request("GET", f"/products/?page={i}").status == 200

    assert proxy.replica.connections - before <= 1
