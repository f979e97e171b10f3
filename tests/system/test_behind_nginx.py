"""The stack natively: the real nginx config in front of two gunicorn instances over one PostgreSQL
and Redis, as docker-compose runs it (which can't run here)."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.nginx import free_port, running_nginx
from tests.system.conftest import HOST, REQUEST_TIMEOUT_S, Instance, Starter, json_bytes, request_head

pytestmark = pytest.mark.postgres

CLIENT_ADDRESS = "127.0.0.2"  # loopback, but not nginx's own address: the service must see this one


@dataclass
class Edge:
    port: int

    def call(self, method: str, path: str, body: Any = None, *, token: str = "", request_id: str = "") -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if request_id:
            headers["X-Request-ID"] = request_id
        conn = HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S, source_address=(CLIENT_ADDRESS, 0))
        try:
            conn.request(method, path, body=None if body is None else json_bytes(body), headers=headers)
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()


@pytest.fixture
def stack(start: Starter, tmp_path: Path) -> Iterator[tuple[Edge, list[Instance]]]:
    instances = start(2, PROXY_HOPS="1")
    port = free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    with running_nginx(prefix, [f"{HOST}:{instance.port}" for instance in instances], port):
        yield Edge(port), instances


def access_lines(instance: Instance) -> list[dict[str, Any]]:
    return [
        line for line in map(json.loads, instance.log.read_text().splitlines()) if line.get("logger") == "shop.access"
    ]


def refused(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_the_service_behind_nginx_sees_the_client_and_the_request_id(stack: tuple[Edge, list[Instance]]) -> None:
    edge, instances = stack
    customer = instances[0].customer("carol")

    status, headers, _body = edge.call("GET", "/orders/", token=customer, request_id="edge-trace-1")

    assert status == 200
    assert headers["X-Request-ID"] == "edge-trace-1"
    [line] = [line for i in instances for line in access_lines(i) if line["request_id"] == "edge-trace-1"]
    assert (line["route"], line["status"], line["remote_addr"]) == ("/orders/", 200, CLIENT_ADDRESS)
    assert line["user_id"] is not None


def test_a_stopping_instance_is_skipped_while_it_finishes_its_last_request(
    stack: tuple[Edge, list[Instance]],
) -> None:
    edge, (leaving, staying) = stack
    manager = leaving.manager("boss")
    product = leaving.product(manager, "Lamp", stock=100)
    customer = leaving.customer("carol")
    body = json_bytes({"items": [{"product": product, "quantity": 1}]})

    with socket.create_connection((HOST, leaving.port), timeout=REQUEST_TIMEOUT_S) as in_flight:
        in_flight.sendall(request_head("POST", "/orders/", length=len(body), token=customer, expect_continue=True))
        assert in_flight.recv(64).startswith(b"HTTP/1.1 100"), leaving.explain("no 100 Continue")
        leaving.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not refused(leaving.port):
            assert time.monotonic() < deadline, leaving.explain("still accepting after SIGTERM")
            time.sleep(0.01)

        # The leaving instance still holds a request, yet nginx sends every new one to the other.
        statuses = [
            edge.call("POST", "/orders/", {"items": [{"product": product, "quantity": 1}]}, token=customer)[0]
            for _ in range(10)
        ]
        assert leaving.process.poll() is None, "the leaving instance should still be finishing its request"
        in_flight.sendall(body)
        answer = in_flight.recv(65536)

    assert statuses == [201] * 10, staying.explain(statuses)
    assert answer.startswith(b"HTTP/1.1 201"), leaving.explain(answer[:200])
    assert leaving.process.wait(15) == 0
