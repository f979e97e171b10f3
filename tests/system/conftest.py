"""The service as production runs it: gunicorn masters with sync workers, started as subprocesses.

Each instance gets a free port, its own var directory and a log file in the test's tmp_path; every
instance of a test shares the database, Redis and the JWT key. Instances are stopped when the test
ends (SIGTERM, then SIGKILL of the whole process group), and a failing test shows their logs' tails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.fakes import PASSWORD

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
CACHE_REDIS_URL = "redis://127.0.0.1:6379/3"
LIMITS_REDIS_URL = "redis://127.0.0.1:6379/4"
METRICS_TOKEN = "system-tests-scrape-token"
# Any public path answering 200 once a worker serves; GET /health/ready replaces it when it exists.
READY_PATH = "/health/ready"
READY_TIMEOUT_S = 15
GRACEFUL_TIMEOUT_S = 20  # given to gunicorn_conf as GRACEFUL_TIMEOUT
STOP_TIMEOUT_S = GRACEFUL_TIMEOUT_S + 5
REQUEST_TIMEOUT_S = 10
LOG_TAIL_LINES = 40

Starter = Callable[..., list["Instance"]]
INSTANCES = pytest.StashKey[list["Instance"]]()
RELAYS = pytest.StashKey[list["RelayProcess"]]()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Exchange:
    """What one request on a fresh connection got back, to the last byte, and how it ended."""

    connected: bool
    received: bytes
    error: OSError | None = None

    @property
    def outcome(self) -> str:
        """One of: refused (no connection), unanswered (connected, not one byte back), timeout,
        truncated (part of a response), or the status of a complete response, e.g. 201."""
        if not self.connected:
            return "refused"
        if isinstance(self.error, TimeoutError):
            return "timeout"
        if not self.received:
            return "unanswered"
        reply = parse_response(self.received)
        return "truncated" if reply is None else str(reply.status)

    def reply(self) -> Reply:
        reply = parse_response(self.received)
        assert reply is not None, f"not a complete response: {self.received!r} ({self.error!r})"
        return reply


def parse_response(data: bytes) -> Reply | None:
    """The final response in data (interim 1xx responses skipped), or None when any of it is missing."""
    while True:
        head, separator, rest = data.partition(b"\r\n\r\n")
        if not separator:
            return None
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        if 100 <= status < 200:
            data = rest
            continue
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = headers.get("content-length")
        if length is None or len(rest) != int(length):
            return None
        return Reply(status, headers, rest)


def request_head(method: str, path: str, *, length: int, token: str = "", expect_continue: bool = False) -> bytes:
    """The head of an HTTP/1.1 request announcing a JSON body of length bytes."""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {HOST}",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *([f"Authorization: Bearer {token}"] if token else []),
        *(["Expect: 100-continue"] if expect_continue else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_request(method: str, path: str, body: Any, *, token: str = "") -> bytes:
    payload = json_bytes(body)
    return request_head(method, path, length=len(payload), token=token) + payload


def json_bytes(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def exchange(port: int, data: bytes, timeout: float = REQUEST_TIMEOUT_S) -> Exchange:
    """Send data on a new connection and read until the server closes it (sync workers always do)."""
    try:
        sock = socket.create_connection((HOST, port), timeout=timeout)
    except ConnectionRefusedError as error:
        return Exchange(connected=False, received=b"", error=error)
    with sock:
        return read_to_end(sock, data)


def read_to_end(sock: socket.socket, data: bytes = b"") -> Exchange:
    received = bytearray()
    try:
        sock.sendall(data)
        while chunk := sock.recv(65536):
            received += chunk
    except OSError as error:  # reset, broken pipe, timeout
        return Exchange(connected=True, received=bytes(received), error=error)
    return Exchange(connected=True, received=bytes(received))


@dataclass
class Spawned:
    """A process of the service started for a test: its name, port, environment and log."""

    name: str
    port: int
    env: dict[str, str] = field(repr=False)
    log: Path
    process: subprocess.Popen[bytes] = field(init=False, repr=False)

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])


@dataclass
class Instance(Spawned):
    """One gunicorn master and its workers."""

    def launch(self) -> None:
        command = [str(BIN / "gunicorn"), "--config", "python:shop.entrypoints.gunicorn_conf"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "shop.entrypoints.app:create_app()"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the workers can be killed with it
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.explain(f"gunicorn exited with {self.process.returncode}")
            try:
                if self.call("GET", READY_PATH).status == 200:
                    return
            except (OSError, HTTPException):
                pass  # not listening yet
            time.sleep(0.1)
        raise AssertionError(self.explain(f"GET {READY_PATH} did not answer 200 within {READY_TIMEOUT_S}s"))

    def stop(self) -> None:
        """SIGTERM, then after STOP_TIMEOUT_S SIGKILL for the master and whatever is left of its group."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT_S)
        with contextlib.suppress(ProcessLookupError):  # the group is gone once its last worker is
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def workers(self) -> list[int]:
        """The master's child processes, by pid."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def explain(self, message: object) -> str:
        return f"{message}\n--- gunicorn {self.name} ({self.log}), last lines:\n{self.log_tail()}"

    def call(
        self, method: str, path: str, body: Any = None, *, token: str = "", headers: dict[str, str] | None = None
    ) -> Reply:
        headers = {"Accept": "application/json", **(headers or {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection = HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request(method, path, body=None if body is None else json_bytes(body), headers=headers)
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def expect(self, status: int, method: str, path: str, body: Any = None, *, token: str = "") -> Any:
        """The JSON body of a call that must answer status."""
        reply = self.call(method, path, body, token=token)
        assert reply.status == status, self.explain(f"{method} {path}: {reply.status} {reply.body[:500]!r}")
        return reply.json() if reply.body else None

    def signup(self, username: str) -> dict[str, Any]:
        user: dict[str, Any] = self.expect(201, "POST", "/users/", {"username": username, "password": PASSWORD})
        return user

    def login(self, username: str) -> dict[str, str]:
        tokens: dict[str, str] = self.expect(200, "POST", "/api/token/", {"username": username, "password": PASSWORD})
        return tokens

    def customer(self, username: str) -> str:
        """A new customer's access token."""
        self.signup(username)
        return self.login(username)["access"]

    def manager(self, username: str) -> str:
        """A manager made the way operators do (`shop manager NAME`), logged in: an access token."""
        completed = subprocess.run(
            [str(BIN / "shop"), "manager", username],
            env={**self.env, "SHOP_MANAGER_PASSWORD": PASSWORD},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert completed.returncode == 0, f"shop manager: {completed.stdout}{completed.stderr}"
        return self.login(username)["access"]

    def product(self, manager_token: str, name: str, stock: int, price: str = "9.99") -> int:
        created = self.expect(
            201, "POST", "/products/", {"name": name, "price": price, "stock": stock}, token=manager_token
        )
        product_id: int = created["id"]
        return product_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def flush_redis(*urls: str) -> None:
    for url in urls:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            client.flushdb()
        except redis.ConnectionError:
            pytest.fail(f"Redis is not reachable at {url}; .ci/run starts it")
        finally:
            client.close()


@pytest.fixture
def start(pg_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Starter]:
    """start(count=1, **env) -> count ready instances over the test's PostgreSQL database and Redis.

    env adds to or overrides the environment below, e.g. RATELIMIT_PER_ADDRESS="6 per minute".
    """
    flush_redis(CACHE_REDIS_URL, LIMITS_REDIS_URL)
    instances: list[Instance] = []
    request.node.stash[INSTANCES] = instances
    secret = secrets.token_urlsafe(36)  # 48 characters, shared: a token from one instance works on all

    def start_instances(count: int = 1, **env: str) -> list[Instance]:
        started = []
        for _ in range(count):
            name = f"gunicorn-{len(instances) + 1}"
            port = free_port()
            var = tmp_path / name
            var.mkdir()
            environment = {
                # A metrics directory inherited from the caller would be shared (and wiped) by every instance.
                **{name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"},
                "HOST": HOST,
                "PORT": str(port),
                "WEB_CONCURRENCY": "2",
                "GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT_S),
                "SHOP_ENV": "production",
                "SHOP_VAR_DIR": str(var),
                "DATABASE_URL": pg_url,
                "JWT_SECRET_KEY": secret,
                "REDIS_URL": CACHE_REDIS_URL,
                "RATELIMIT_ENABLED": "true",
                "RATELIMIT_STORAGE_URI": LIMITS_REDIS_URL,
                "TRUSTED_HOSTS": HOST,
                "METRICS_TOKEN": METRICS_TOKEN,
                "ARGON2_MEMORY_KIB": "1024",
                "ARGON2_TIME_COST": "1",
                **env,
            }
            instance = Instance(name, port, environment, tmp_path / f"{name}.log")
            instance.launch()
            instances.append(instance)
            started.append(instance)
        for instance in started:  # launched together, so they boot in parallel
            instance.wait_ready()
        return started

    try:
        yield start_instances
    finally:
        for instance in instances:  # all at once: they stop in parallel
            if instance.process.poll() is None:
                instance.process.terminate()
        for instance in instances:
            instance.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test shows the end of each of its instances' logs."""
    report = yield
    if report.failed:
        for instance in item.stash.get(INSTANCES, []):
            report.sections.append((f"{instance.name} log ({instance.log})", instance.log_tail()))
        for relay in item.stash.get(RELAYS, []):
            report.sections.append((f"{relay.name} log ({relay.log})", relay.log_tail()))
    return report


@dataclass
class RelayProcess(Spawned):
    """One `shop relay`, with its probes on port."""

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "shop"), "relay"], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def probe(self, path: str) -> Reply:
        connection = HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
            with contextlib.suppress(OSError, HTTPException):
                if self.probe("/health/ready").status == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} was not ready within {READY_TIMEOUT_S}s:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                return self.process.wait(timeout)
            self.process.kill()
        return self.process.wait()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


RelayStarter = Callable[..., RelayProcess]


@pytest.fixture
def start_relay(pg_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RelayStarter]:
    """start_relay(broker_url, **env) -> a ready relay over the test's PostgreSQL database."""
    relays: list[RelayProcess] = []
    request.node.stash[RELAYS] = relays

    def start(broker_url: str, **env: str) -> RelayProcess:
        name = f"relay-{len(relays) + 1}"
        environment = {
            **{key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"},
            "DATABASE_URL": pg_url,
            "BROKER_URL": broker_url,
            "RELAY_HOST": HOST,
            "RELAY_PORT": str(free_port()),
            "SHOP_ENV": "production",  # and yet no JWT key: the relay signs nothing
            "SHOP_VAR_DIR": str(tmp_path / name),
            **env,
        }
        relay = RelayProcess(name, int(environment["RELAY_PORT"]), environment, tmp_path / f"{name}.log")
        relay.launch()
        relays.append(relay)
        relay.wait_ready()
        return relay

    try:
        yield start
    finally:
        for relay in relays:
            relay.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here starts real processes: `make quick` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.system)


@dataclass
class WebhooksProcess(RelayProcess):
    """One `shop webhooks` (the deliverer), with its probes on port."""

    def launch(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "shop"), "webhooks"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


WebhooksStarter = Callable[..., WebhooksProcess]


@pytest.fixture
def start_webhooks(pg_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebhooksStarter]:
    """start_webhooks(**env) -> a ready deliverer over the test's PostgreSQL database; its log shows
    with the relays' when the test fails."""
    started: list[WebhooksProcess] = []
    if RELAYS not in request.node.stash:
        request.node.stash[RELAYS] = []
    shown = request.node.stash[RELAYS]

    def start(**env: str) -> WebhooksProcess:
        name = f"webhooks-{len(started) + 1}"
        environment = {
            **{key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"},
            "DATABASE_URL": pg_url,
            "WEBHOOKS_HOST": HOST,
            "WEBHOOKS_PORT": str(free_port()),
            "SHOP_VAR_DIR": str(tmp_path / name),
            **env,
        }
        process = WebhooksProcess(name, int(environment["WEBHOOKS_PORT"]), environment, tmp_path / f"{name}.log")
        process.launch()
        started.append(process)
        shown.append(process)
        process.wait_ready()
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()
