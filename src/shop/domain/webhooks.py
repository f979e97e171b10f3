"""Webhooks: endpoints outside the shop that receive its events over HTTP, signed as the Standard
Webhooks specification says, retried on a schedule, and never pointed at the shop's own network.

What an endpoint's URL may be, which events it takes, how its secret is rotated, how a delivery is
signed, and what follows each answer of an endpoint (the next attempt, giving up, disabling it) are
decided here; sending the requests and resolving names are the adapters' work.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from shop.domain.errors import InvalidValue, Problems
from shop.domain.events import Event, WebhookDisabled

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a password)
NO_TYPES: tuple[str, ...] = ()
SECRET_BYTES = 32
# After a rotation, deliveries are signed with the old secret too for this long (Standard Webhooks'
# several signatures), so a consumer can switch without losing one.
ROTATION_OVERLAP = timedelta(hours=24)
URL_MAX = 2048
DESCRIPTION_MAX = 500
EVENTS_MAX = 50
RESPONSE_KEPT = 2048  # bytes of an endpoint's answer kept in the delivery log
ERROR_MAX = 500
RETRY_AFTER_MAX = timedelta(days=7)
DEFAULT_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0, 36000.0)
DEFAULT_DISABLE_AFTER = timedelta(hours=72)
JITTER = 0.2  # each wait of the schedule is lengthened by up to this fraction, so retries spread out


@dataclass(frozen=True, slots=True)
class Secret:
    """An endpoint's signing key: 32 random bytes, shown as `whsec_` and their base64."""

    key: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> Secret:
        try:
            key = base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not a whsec_ secret") from None
        if not text.startswith(SECRET_PREFIX) or len(key) < 24:
            raise ValueError("not a whsec_ secret")
        return cls(key)

    @property
    def encoded(self) -> str:
        return SECRET_PREFIX + base64.b64encode(self.key).decode()

    @property
    def masked(self) -> str:
        """What is shown after creation: enough to tell two secrets apart, never enough to sign."""
        return f"{SECRET_PREFIX}…{self.encoded[-4:]}"


def sign(secret: Secret, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the secret's bytes."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret.key, signed, hashlib.sha256).digest()).decode()


def signature_header(secrets: Sequence[Secret], message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: one signature per secret in use, separated by spaces."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets)


# Addresses an endpoint may never reach: link-local (cloud metadata lives at 169.254.169.254) and
# the metadata services that sit elsewhere (AWS' IPv6 one, Alibaba's, Oracle's).
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_METADATA = frozenset(ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192"))
# Addresses of private networks: refused unless allowed (development and tests).
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
        "100.64.0.0/10",  # carrier-grade NAT
        "224.0.0.0/4",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), which is where it really goes."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_problem(address: IPAddress | str, *, allow_private: bool) -> str | None:
    """Why an endpoint may not be reached at this address, or None when it may."""
    ip = _embedded(ipaddress.ip_address(address))
    if ip in _METADATA or any(ip in net for net in _LINK_LOCAL if net.version == ip.version):
        return f"{ip} is a link-local or cloud metadata address"
    if ip.is_unspecified:
        return f"{ip} is unspecified (it reaches this machine)"
    if any(ip in net for net in _PRIVATE if net.version == ip.version):
        return None if allow_private else f"{ip} is a loopback, private, shared or multicast address"
    if not ip.is_global:
        return f"{ip} is a reserved address"
    return None


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """allow_private: loopback and private networks may be reached (WEBHOOK_ALLOW_PRIVATE, never in
    production); production: only https."""

    allow_private: bool = False
    production: bool = False


def check_url(url: str, policy: UrlPolicy) -> str:
    """What can be told of a URL without resolving its name; the address it resolves to is checked
    again at every attempt, when the connection is made."""
    url = url.strip()
    problem = _url_problem(url, policy)
    if problem:
        raise InvalidValue.single("url", problem)
    return url


def _url_problem(url: str, policy: UrlPolicy) -> str | None:
    if not url or len(url) > URL_MAX:
        return f"Give a URL of at most {URL_MAX} characters."
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "A URL may not contain spaces or control characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Only http and https URLs can receive webhooks."
    if policy.production and parts.scheme != "https":
        return "Plain http is refused in production: use https."
    if "@" in parts.netloc:
        return "A URL may not carry credentials (user:password@)."
    host = parts.hostname
    if not host:
        return "The URL names no host."
    if port == 0:
        return "Port 0 can't be reached."
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        problem = address_problem(literal, allow_private=policy.allow_private)
        return f"Refused: {problem}." if problem else None
    if not policy.allow_private and (host == "localhost" or host.endswith(".localhost")):
        return "Refused: localhost is this machine."
    return None


def event_family(kind: str) -> str:
    return kind.partition(".")[0]


def check_events(patterns: Iterable[str], known: Collection[str]) -> tuple[str, ...]:
    """Event types, or `family.*` for every type of a family; at least one, each known."""
    chosen: list[str] = []
    unknown: list[str] = []
    families = {event_family(kind) for kind in known}
    for pattern in patterns:
        family, dot, rest = pattern.partition(".")
        if pattern in known or (dot and rest == "*" and family in families):
            if pattern not in chosen:
                chosen.append(pattern)
        else:
            unknown.append(pattern)
    if unknown:
        raise InvalidValue.single(
            "events",
            f"Unknown event types: {', '.join(repr(u) for u in unknown)}. "
            f"Known: {', '.join(sorted(known))}, or a family's `*`, such as order.*.",
        )
    if not 1 <= len(chosen) <= EVENTS_MAX:
        raise InvalidValue.single("events", f"Give 1 to {EVENTS_MAX} event types.")
    return tuple(chosen)


def subscribes(patterns: Iterable[str], kind: str) -> bool:
    wildcard = f"{event_family(kind)}.*"
    return any(pattern in (kind, wildcard) for pattern in patterns)


def check_description(description: str) -> str:
    description = description.strip()
    if len(description) > DESCRIPTION_MAX:
        raise InvalidValue.single("description", f"At most {DESCRIPTION_MAX} characters.")
    return description


class DisabledBecause(StrEnum):
    MANAGER = "manager"  # a manager switched it off
    GONE = "gone"  # it answered 410 Gone
    FAILING = "failing"  # every attempt failed for WEBHOOK_DISABLE_AFTER_HOURS


@dataclass(eq=False)
class WebhookEndpoint:
    """An endpoint that receives the events it subscribes to, signed with its secret."""

    url: str
    event_types: tuple[str, ...]  # what it subscribes to: types, or a family's `*`
    secret: Secret
    created_at: datetime
    description: str = ""
    id: int | None = None
    enabled: bool = True
    disabled_reason: DisabledBecause | None = None
    previous_secret: Secret | None = None
    previous_secret_until: datetime | None = None
    failing_since: datetime | None = None  # the first failed attempt since the last success
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def create(
        cls,
        *,
        url: str,
        events: Iterable[str],
        description: str = "",
        secret: Secret,
        now: datetime,
        policy: UrlPolicy,
        known: Collection[str],
    ) -> WebhookEndpoint:
        problems = Problems()
        url = problems.check(lambda: check_url(url, policy), url)
        chosen = problems.check(lambda: check_events(events, known), NO_TYPES)
        description = problems.check(lambda: check_description(description), description)
        problems.raise_any()
        return cls(url=url, event_types=chosen, description=description, secret=secret, created_at=now)

    def change(
        self,
        *,
        now: datetime,
        policy: UrlPolicy,
        known: Collection[str],
        url: str | None = None,
        events: Iterable[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> None:
        """A manager's edit: None keeps a field; every field is checked before any changes."""
        problems = Problems()
        new_url = self.url if url is None else problems.check(lambda: check_url(url, policy), self.url)
        new_events = (
            self.event_types if events is None else problems.check(lambda: check_events(events, known), NO_TYPES)
        )
        new_description = (
            self.description
            if description is None
            else problems.check(lambda: check_description(description), self.description)
        )
        problems.raise_any()
        self.url, self.event_types, self.description = new_url, new_events, new_description
        if enabled is True:
            self.enable()
        elif enabled is False:
            self.disable(DisabledBecause.MANAGER, now=now)

    def enable(self) -> None:
        """Deliveries resume, those that waited included; past failures are forgotten."""
        self.enabled, self.disabled_reason, self.failing_since = True, None, None

    def disable(self, reason: DisabledBecause, *, now: datetime) -> None:
        if not self.enabled:
            return
        self.enabled, self.disabled_reason = False, reason
        if reason is not DisabledBecause.MANAGER:
            self.events.append(WebhookDisabled(endpoint=self, reason=reason.value, occurred_at=now))

    def rotate(self, new: Secret, now: datetime) -> None:
        """Sign with the new secret from now on, and with the old one too for ROTATION_OVERLAP."""
        self.previous_secret, self.previous_secret_until = self.secret, now + ROTATION_OVERLAP
        self.secret = new

    def signing_secrets(self, now: datetime) -> list[Secret]:
        secrets = [self.secret]
        until = self.previous_secret_until
        if self.previous_secret is not None and until is not None and now < until:
            secrets.append(self.previous_secret)
        return secrets

    def takes(self, kind: str) -> bool:
        return self.enabled and subscribes(self.event_types, kind)

    def needs_record(self, verdict: Verdict, now: datetime, disable_after: timedelta) -> bool:
        """Whether an attempt's verdict changes the endpoint (its failing streak, or its standing)."""
        if verdict is Verdict.SUCCEEDED:
            return self.failing_since is not None
        if verdict is Verdict.GONE:
            return self.enabled
        return self.failing_since is None or now - self.failing_since >= disable_after

    def record(self, verdict: Verdict, now: datetime, disable_after: timedelta) -> None:
        """An attempt's verdict: a success ends a failing streak; 410 disables at once; a streak of
        failures as long as disable_after disables too."""
        if verdict is Verdict.SUCCEEDED:
            self.failing_since = None
            return
        if verdict is Verdict.GONE:
            self.disable(DisabledBecause.GONE, now=now)
            return
        if self.failing_since is None:
            self.failing_since = now
        if now - self.failing_since >= disable_after:
            self.disable(DisabledBecause.FAILING, now=now)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not tried yet, or asked again
    RETRYING = "retrying"  # tried, failed, tried again at next_attempt_at
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # given up

    @property
    def waiting(self) -> bool:
        return self in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


class Verdict(StrEnum):
    """What an answer means for its delivery."""

    SUCCEEDED = "succeeded"
    RETRY = "retry"  # 5xx, 429, a redirect, a timeout, no connection
    REFUSED = "refused"  # any other 4xx: the endpoint will not take it, however often asked
    GONE = "gone"  # 410: the endpoint is no more


@dataclass(frozen=True, slots=True)
class Answer:
    """What an attempt got back: a status (and perhaps Retry-After, in seconds), or an error."""

    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    body: bytes = b""
    retry_after: float | None = None

    @property
    def verdict(self) -> Verdict:
        code = self.status_code
        if code is None:
            return Verdict.RETRY
        if 200 <= code < 300:
            return Verdict.SUCCEEDED
        if code == 410:
            return Verdict.GONE
        if 400 <= code < 500 and code != 429:
            return Verdict.REFUSED
        return Verdict.RETRY


@dataclass(frozen=True, slots=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_body: str


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """The waits after each failed attempt, in seconds; once they are used up, the delivery fails."""

    delays: tuple[float, ...] = DEFAULT_SCHEDULE

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        """Comma-separated seconds, such as `1,2,4`."""
        try:
            delays = tuple(float(part) for part in text.split(","))
        except ValueError:
            raise ValueError(f"comma-separated seconds, such as 1,2,4; got {text!r}") from None
        if not delays or any(not 0 < d <= 7 * 86400 for d in delays):
            raise ValueError(f"each wait must be above 0 and at most a week; got {text!r}")
        return cls(delays)

    def next_attempt(self, tries: int, now: datetime, draw: float, retry_after: float | None) -> datetime | None:
        """When to try again after the tries-th failed attempt (draw in [0, 1) spreads it), or None:
        no more tries. Never sooner than the endpoint's Retry-After."""
        if tries > len(self.delays):
            return None
        wait = self.delays[tries - 1] * (1 + JITTER * draw)
        if retry_after is not None:
            wait = max(wait, min(retry_after, RETRY_AFTER_MAX.total_seconds()))
        return now + timedelta(seconds=wait)


@dataclass(eq=False)
class Delivery:
    """One event on its way to one endpoint. Its id, the event's id, is the webhook-id of every
    attempt, so a consumer deduplicates by it."""

    endpoint_id: int
    event_id: str
    event_type: str
    aggregate: str  # "order:12": one endpoint gets one aggregate's events one at a time, in order
    body: bytes
    created_at: datetime
    id: int | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    tries: int = 0  # attempts counted by the schedule (a redelivery starts it again)
    next_attempt_at: datetime | None = None
    attempts: list[Attempt] = field(default_factory=list)
    # The W3C Trace Context headers of the change it tells (traceparent, tracestate): every attempt
    # carries them on, so the endpoint's request joins that change's trace. Empty without tracing.
    trace_context: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.next_attempt_at is None and self.status.waiting:
            self.next_attempt_at = self.created_at

    def record(self, answer: Answer, *, at: datetime, schedule: RetrySchedule, draw: float) -> Verdict:
        """The attempt made at `at` and what follows it."""
        self.attempts.append(
            Attempt(
                at=at,
                status_code=answer.status_code,
                error=answer.error[:ERROR_MAX] if answer.error else None,
                duration_ms=answer.duration_ms,
                response_body=answer.body[:RESPONSE_KEPT].decode("utf-8", "replace"),
            )
        )
        self.tries += 1
        verdict = answer.verdict
        retry_at = schedule.next_attempt(self.tries, at, draw, answer.retry_after) if verdict is Verdict.RETRY else None
        if verdict is Verdict.SUCCEEDED:
            self.status, self.next_attempt_at = DeliveryStatus.SUCCEEDED, None
        elif retry_at is None:
            self.status, self.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            self.status, self.next_attempt_at = DeliveryStatus.RETRYING, retry_at
        return verdict

    def redeliver(self, now: datetime) -> None:
        """Send again now, with a fresh schedule; attempts so far stay in the log."""
        self.status, self.tries, self.next_attempt_at = DeliveryStatus.PENDING, 0, now
