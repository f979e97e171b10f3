"""Sending webhooks over HTTP without being turned against our own network.

Every attempt checks the URL again, resolves its name once, refuses it if any address it resolves to
is one the rules refuse, and connects to an address it checked: the name is never resolved a second
time, so DNS rebinding (a public answer when checked, a private one when connecting) can't slip
past. TLS still verifies the certificate against the name, and the Host header carries it. No
redirect is followed, no proxy from the environment is used; 3 s to connect, 15 s in all.

http.client (the standard library) rather than requests or urllib3: overriding `connect()` is its
documented way to choose the socket, and no pool is wanted (each attempt its own connection).
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from shop.adapters import tracing
from shop.application.ports.webhooks import Resolver
from shop.domain.errors import InvalidValue
from shop.domain.webhooks import RESPONSE_KEPT, Answer, UrlPolicy, address_problem, check_url

CONNECT_TIMEOUT_S = 3.0
TOTAL_TIMEOUT_S = 15.0


class SystemResolver:
    def resolve(self, host: str, port: int) -> list[str]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedConnection(http.client.HTTPConnection):
    """A connection to one checked address, speaking to the URL's host (Host header, TLS name)."""

    def __init__(
        self, host: str, port: int, *, address: str, connect_timeout: float, tls: ssl.SSLContext | None
    ) -> None:
        super().__init__(host, port, timeout=connect_timeout)
        self.default_port = 443 if tls else 80  # the Host header omits the scheme's own port
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host) if self._tls else sock
        except BaseException:
            sock.close()
            raise

    def abort(self) -> None:
        """End whatever the connection waits for, from another thread: the attempt's deadline."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class SafeSender:
    """The WebhookSender: production=True refuses plain http as creation does."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        user_agent: str,
        allow_private: bool = False,
        production: bool = False,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        total_timeout: float = TOTAL_TIMEOUT_S,
    ) -> None:
        self._resolver = resolver
        self._user_agent = user_agent
        self._policy = UrlPolicy(allow_private=allow_private, production=production)
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._tls = ssl.create_default_context()

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        started = time.monotonic()
        try:
            check_url(url, self._policy)
        except InvalidValue as error:
            return Answer(error=f"refused: {' '.join(error.errors['url'])}")
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        try:
            addresses = self._resolver.resolve(host, port)
        except OSError as error:
            return self._answer(started, error=f"could not resolve {host}: {error}")
        for address in addresses:
            problem = address_problem(address, allow_private=self._policy.allow_private)
            if problem:
                return self._answer(started, error=f"refused: {host} resolves to {problem}")
        if not addresses:
            return self._answer(started, error=f"could not resolve {host}: no address")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        with tracing.webhook_request(host, port, headers) as (sent_headers, answered):
            last: Answer | None = None
            for address in addresses:
                last = self._post(address, host, port, https, path, body, sent_headers, started)
                if last.error is None or not last.error.startswith("could not connect"):
                    break
            assert last is not None
            answered(last.status_code)
            return last

    def _post(
        self,
        address: str,
        host: str,
        port: int,
        https: bool,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
        started: float,
    ) -> Answer:
        connection = _PinnedConnection(
            host, port, address=address, connect_timeout=self._connect_timeout, tls=self._tls if https else None
        )
        deadline = threading.Timer(max(0.0, self._total_timeout - (time.monotonic() - started)), connection.abort)
        deadline.daemon = True
        deadline.start()
        try:
            try:
                connection.connect()
            except ssl.SSLError as error:
                return self._answer(started, error=f"TLS failed: {error.reason or error}")
            except OSError as error:
                return self._answer(started, error=f"could not connect to {address}: {_describe(error)}")
            assert connection.sock is not None
            connection.sock.settimeout(max(0.001, self._total_timeout - (time.monotonic() - started)))
            connection.request(
                "POST", path, body=body, headers={**headers, "User-Agent": self._user_agent, "Connection": "close"}
            )
            response = connection.getresponse()
            kept = response.read(RESPONSE_KEPT)
            return self._answer(
                started, status=response.status, body=kept, retry_after=_retry_after(response.getheader("Retry-After"))
            )
        except (OSError, http.client.HTTPException) as error:
            if time.monotonic() - started >= self._total_timeout or isinstance(error, TimeoutError):
                return self._answer(started, error=f"timed out after {self._total_timeout:g} s")
            return self._answer(started, error=f"the connection failed: {_describe(error)}")
        finally:
            deadline.cancel()
            connection.close()

    def _answer(
        self,
        started: float,
        *,
        status: int | None = None,
        error: str | None = None,
        body: bytes = b"",
        retry_after: float | None = None,
    ) -> Answer:
        duration_ms = round((time.monotonic() - started) * 1000)
        return Answer(status_code=status, error=error, duration_ms=duration_ms, body=body, retry_after=retry_after)


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date (RFC 9110, section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
