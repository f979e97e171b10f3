"""The Dockerfile runs gunicorn alone, as an unprivileged user; its health check and compose's (the
API's and the relay's), run here against a stub server, pass on 200 from /health/ready and fail on 503."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.deploy.contract import RELAY_PORT

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instruction(name: str) -> list[str]:
    """The arguments of each instruction NAME, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", "", DOCKERFILE)
    return re.findall(rf"^{name} (.*)$", joined, re.MULTILINE)


def _exec_form(arguments: str) -> list[str]:
    """Docker falls back to the shell form, silently, when the JSON is malformed: refuse that here."""
    parsed = json.loads(arguments)
    assert isinstance(parsed, list)
    assert all(isinstance(item, str) for item in parsed)
    return parsed


class _Health(ThreadingHTTPServer):
    daemon_threads = True
    status = 200
    paths: list[str]


class _HealthHandler(BaseHTTPRequestHandler):
    server: _Health

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health() -> Iterator[_Health]:
    server = _Health(("127.0.0.1", 0), _HealthHandler)
    server.paths = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _run_check(command: list[str], port: int) -> int:
    assert command[0] == "python"
    env = {**os.environ, "PORT": str(port)}
    # compose's checks name the port the container listens on: point them at the stub.
    argv = [sys.executable, *(re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", arg) for arg in command[1:])]
    return subprocess.run(argv, env=env, capture_output=True, timeout=10, check=False).returncode


def _checks() -> dict[str, list[str]]:
    [healthcheck] = _instruction("HEALTHCHECK")
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    checks = {"dockerfile": _exec_form(healthcheck.split(" CMD ", 1)[1])}
    for name, port in (("api", 8000), ("relay", RELAY_PORT)):
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD"
        assert f"127.0.0.1:{port}/" in " ".join(test), (name, port)
        checks[f"compose-{name}"] = test[1:]
    return checks


def test_the_image_runs_gunicorn_with_the_services_configuration_and_nothing_else() -> None:
    [cmd] = _instruction("CMD")
    command = _exec_form(cmd)

    assert command == [
        "gunicorn",
        "--config",
        "python:shop.entrypoints.gunicorn_conf",
        "shop.entrypoints.app:create_app()",
    ]
    assert importlib.util.find_spec("shop.entrypoints.gunicorn_conf") is not None
    app_module = importlib.util.find_spec("shop.entrypoints.app")
    assert app_module is not None and app_module.origin is not None
    assert "def create_app(" in Path(app_module.origin).read_text()
    assert not _instruction("ENTRYPOINT")
    assert not [line for line in _instruction("RUN") + _instruction("CMD") if "migrate" in line]


def test_the_image_listens_on_all_interfaces_as_an_unprivileged_user() -> None:
    [user] = _instruction("USER")
    env = " ".join(_instruction("ENV"))

    uid, gid = (int(part) for part in user.split(":"))
    assert uid >= 1000 and gid >= 1000
    assert _instruction("EXPOSE") == ["8000"]
    assert "HOST=0.0.0.0" in env.split()
    assert "PORT=8000" in env.split()
    assert _instruction("FROM")[0].startswith("python:3.1")


@pytest.mark.parametrize("source", ["dockerfile", "compose-api", "compose-relay"])
def test_the_health_check_passes_only_when_the_service_is_ready(health: _Health, source: str) -> None:
    command = _checks()[source]

    health.status = 200
    assert _run_check(command, health.server_port) == 0
    health.status = 503
    assert _run_check(command, health.server_port) != 0
    assert health.paths == ["/health/ready", "/health/ready"]
