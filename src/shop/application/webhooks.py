"""Webhooks: the managers' use cases for endpoints and their deliveries, and the deliverer.

The deliverer reads the outbox itself (RabbitMQ being down must not stop webhooks), turns each new
message into one delivery per enabled endpoint that subscribes to it, in the transaction that marks
the message fanned out, and sends the deliveries from their table: claimed for a while (a deliverer
that dies loses its claims when they lapse), one at a time per endpoint and aggregate (an order's
events arrive in order), retried on the schedule. Delivery is at least once: a consumer
deduplicates by webhook-id.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol
from urllib.parse import urlsplit

from shop.application.actors import Actor
from shop.application.errors import Forbidden, NotFound
from shop.application.messages import PING, WEBHOOK_TYPES, Message, aggregate_key, envelope
from shop.application.outages import OutageLog
from shop.application.ports.paging import Listing, Page
from shop.application.ports.services import Clock
from shop.application.ports.unit_of_work import UnitOfWork
from shop.application.ports.webhooks import DeliveryBacklog, Resolver, Standing, WebhookSender
from shop.application.representations import webhook_summary
from shop.domain.errors import InvalidValue
from shop.domain.webhooks import (
    DEFAULT_DISABLE_AFTER,
    SECRET_BYTES,
    Delivery,
    DeliveryStatus,
    RetrySchedule,
    Secret,
    UrlPolicy,
    WebhookEndpoint,
    address_problem,
    signature_header,
)

log = logging.getLogger(__name__)


def new_secret() -> Secret:
    return Secret(secrets.token_bytes(SECRET_BYTES))


def _require_manager(actor: Actor) -> None:
    if not actor.is_manager:
        raise Forbidden("Only managers can manage webhooks.")


def check_resolved(url: str, resolver: Resolver, policy: UrlPolicy) -> None:
    """Refuse a URL whose name resolves to an address the rules refuse. A name that does not resolve
    (yet) is taken: every attempt checks the address again when it connects."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = resolver.resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError:
        return
    for address in addresses:
        problem = address_problem(address, allow_private=policy.allow_private)
        if problem:
            raise InvalidValue.single("url", f"Refused: {host} resolves to {problem}.")


def _endpoint(uow: UnitOfWork, webhook_id: int, *, lock: bool = False) -> WebhookEndpoint:
    endpoint = uow.webhooks.get_for_update(webhook_id) if lock else uow.webhooks.get(webhook_id)
    if endpoint is None:
        raise NotFound("Webhook", webhook_id)
    return endpoint


def create_webhook(
    *,
    uow: UnitOfWork,
    clock: Clock,
    resolver: Resolver,
    policy: UrlPolicy,
    actor: Actor,
    url: str,
    events: Iterable[str],
    description: str = "",
    make_secret: Callable[[], Secret] = new_secret,
) -> WebhookEndpoint:
    """A new endpoint, enabled, with a new secret (the answer is the one time it is shown whole)."""
    _require_manager(actor)
    endpoint = WebhookEndpoint.create(
        url=url,
        events=events,
        description=description,
        secret=make_secret(),
        now=clock.now(),
        policy=policy,
        known=WEBHOOK_TYPES,
    )
    check_resolved(endpoint.url, resolver, policy)
    with uow:
        uow.webhooks.add(endpoint)
        uow.commit()
    return endpoint


def list_webhooks(*, uow: UnitOfWork, actor: Actor, page: Page) -> Listing[WebhookEndpoint]:
    _require_manager(actor)
    with uow:
        return uow.webhooks.list(page)


def get_webhook(*, uow: UnitOfWork, actor: Actor, webhook_id: int) -> WebhookEndpoint:
    _require_manager(actor)
    with uow:
        return _endpoint(uow, webhook_id)


@dataclass(frozen=True, slots=True)
class WebhookChanges:
    """Fields to change; None leaves a field as it is. enabled=True resumes delivery."""

    url: str | None = None
    events: tuple[str, ...] | None = None
    description: str | None = None
    enabled: bool | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


def update_webhook(
    *,
    uow: UnitOfWork,
    clock: Clock,
    resolver: Resolver,
    policy: UrlPolicy,
    actor: Actor,
    webhook_id: int,
    changes: WebhookChanges,
) -> WebhookEndpoint:
    _require_manager(actor)
    if changes.is_empty():
        raise InvalidValue.single("body", "Give at least one field to change.")
    if changes.url is not None:
        check_resolved(changes.url.strip(), resolver, policy)
    with uow:
        endpoint = _endpoint(uow, webhook_id, lock=True)
        endpoint.change(
            now=clock.now(),
            policy=policy,
            known=WEBHOOK_TYPES,
            url=changes.url,
            events=changes.events,
            description=changes.description,
            enabled=changes.enabled,
        )
        uow.webhooks.save(endpoint)
        uow.commit()
    return endpoint


def delete_webhook(*, uow: UnitOfWork, actor: Actor, webhook_id: int) -> None:
    """The endpoint and its delivery log are forgotten; nothing more is sent to it."""
    _require_manager(actor)
    with uow:
        _endpoint(uow, webhook_id, lock=True)
        uow.webhooks.remove(webhook_id)
        uow.commit()


def rotate_secret(
    *, uow: UnitOfWork, clock: Clock, actor: Actor, webhook_id: int, make_secret: Callable[[], Secret] = new_secret
) -> WebhookEndpoint:
    """A new secret, shown once; the old one keeps signing too for 24 hours."""
    _require_manager(actor)
    with uow:
        endpoint = _endpoint(uow, webhook_id, lock=True)
        endpoint.rotate(make_secret(), clock.now())
        uow.webhooks.save(endpoint)
        uow.commit()
    return endpoint


def body_of(message: Message, event_id: str) -> bytes:
    return json.dumps(envelope(message, event_id), separators=(",", ":"), ensure_ascii=False).encode()


def ping_webhook(*, uow: UnitOfWork, clock: Clock, actor: Actor, webhook_id: int) -> Delivery:
    """One webhook.ping event for this endpoint alone, whatever it subscribes to; it goes through no
    outbox and no broker, straight into the endpoint's deliveries."""
    _require_manager(actor)
    now = clock.now()
    with uow:
        endpoint = _endpoint(uow, webhook_id)
        event_id = str(uuid.uuid4())
        message = Message(PING, "webhook", webhook_id, now, webhook_summary(endpoint))
        delivery = Delivery(
            endpoint_id=webhook_id,
            event_id=event_id,
            event_type=PING,
            aggregate=aggregate_key("webhook", webhook_id),
            body=body_of(message, event_id),
            created_at=now,
        )
        uow.deliveries.add([delivery])
        uow.commit()
    return delivery


def list_deliveries(*, uow: UnitOfWork, actor: Actor, webhook_id: int, page: Page) -> Listing[Delivery]:
    _require_manager(actor)
    with uow:
        _endpoint(uow, webhook_id)
        return uow.deliveries.list(webhook_id, page)


def redeliver(*, uow: UnitOfWork, clock: Clock, actor: Actor, webhook_id: int, delivery_id: int) -> Delivery:
    """Send a delivery again, now, with the same webhook-id; a disabled endpoint gets it once enabled.
    It still waits for the earlier events of its aggregate to that endpoint."""
    _require_manager(actor)
    with uow:
        delivery = uow.deliveries.get(webhook_id, delivery_id)
        if delivery is None:
            raise NotFound("Delivery", delivery_id)
        delivery.redeliver(clock.now())
        uow.deliveries.save(delivery)
        uow.commit()
    return delivery


def fan_out(*, uow: UnitOfWork, clock: Clock, limit: int) -> int:
    """Turn up to limit messages of the outbox, oldest first, into deliveries to the enabled endpoints
    that subscribe to them and existed when they happened; how many messages were fanned out. One
    deliverer at a time does it (the others find it taken and return 0)."""
    now = clock.now()
    with uow:
        if not uow.outbox.take_fan_out():
            return 0
        entries = uow.outbox.awaiting_webhooks(limit)
        if not entries:
            return 0
        endpoints = uow.webhooks.enabled()
        deliveries = [
            Delivery(
                endpoint_id=endpoint.id,
                event_id=entry.id,
                event_type=entry.type,
                aggregate=entry.aggregate,
                body=entry.body,
                created_at=now,
                trace_context=entry.trace_context,
            )
            for entry in entries
            for endpoint in endpoints
            if endpoint.id is not None and endpoint.takes(entry.type) and endpoint.created_at <= entry.occurred_at
        ]
        uow.deliveries.add(deliveries)
        uow.outbox.mark_fanned_out([entry.position for entry in entries], now)
        uow.commit()
    return len(entries)


@dataclass(frozen=True, slots=True)
class WebhookHealth:
    backlog: DeliveryBacklog
    standings: list[Standing]


def webhook_health(*, uow: UnitOfWork) -> WebhookHealth:
    with uow:
        return WebhookHealth(uow.deliveries.backlog(), uow.webhooks.standings())


def purge_webhook_log(*, uow: UnitOfWork, clock: Clock, retention: timedelta) -> int:
    """Forget deliveries finished longer ago than retention; those still waiting stay."""
    with uow:
        count = uow.deliveries.purge_finished_before(clock.now() - retention)
        uow.commit()
    return count


class DeliveryMetrics(Protocol):
    def attempted(self, event_type: str, outcome: DeliveryStatus, seconds: float) -> None:
        """An attempt ended: succeeded, retrying (will be tried again) or failed (given up)."""

    def delivered(self, latency_seconds: float) -> None:
        """A delivery succeeded, latency_seconds after it was made."""

    def disabled(self, reason: str) -> None: ...


class NoMetrics:
    def attempted(self, event_type: str, outcome: DeliveryStatus, seconds: float) -> None:
        return None

    def delivered(self, latency_seconds: float) -> None:
        return None

    def disabled(self, reason: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class DelivererSettings:
    schedule: RetrySchedule = RetrySchedule()
    disable_after: timedelta = DEFAULT_DISABLE_AFTER
    # A claim outlives the longest attempt (15 s) by far: no other deliverer sends the same delivery
    # meanwhile. A deliverer killed mid-attempt delays its claims by this much.
    lease: timedelta = timedelta(seconds=60)
    concurrency: int = 16  # attempts under way at once
    fan_out_batch: int = 500
    idle_wait_s: float = 0.2
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0

    @property
    def per_endpoint(self) -> int:
        """One slow endpoint takes at most half the attempts under way: the others still go out."""
        return max(1, self.concurrency // 2)


class Round(Enum):
    BUSY = "more is waiting: go on at once"
    IDLE = "nothing due: look again shortly"
    FULL = "every slot is taken: wait for one"
    FAILED = "the database failed: back off"


@dataclass
class DelivererStatus:
    """What the deliverer's probes report."""

    last_success: float | None = None
    last_round: float = field(default_factory=time.monotonic)
    problem: str | None = None


class Deliverer:
    """The deliverer's loop: runs until `wait` returns True (asked to stop), then lets the attempts
    under way finish. Attempts run on a pool of `concurrency` threads."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        sender: WebhookSender,
        clock: Clock,
        wait: Callable[[float], bool],
        settings: DelivererSettings = DelivererSettings(),
        metrics: DeliveryMetrics | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._clock = clock
        self._wait = wait
        self._settings = settings
        self._metrics = metrics or NoMetrics()
        self._draw = draw
        self._lock = threading.Lock()
        self._in_flight: dict[int, int] = {}
        self._finished = threading.Event()
        self._next_fan_out = 0.0
        self.status = DelivererStatus()
        self._outage = OutageLog(log, "webhooks: the database failed, retrying with backoff")
        self._failures = OutageLog(log, "webhooks: recording an attempt failed; its claim will lapse")

    def run(self) -> None:
        settings = self._settings
        backoff = settings.backoff_initial_s
        with ThreadPoolExecutor(settings.concurrency, thread_name_prefix="webhook") as pool:
            while True:
                outcome = self.round(pool)
                if outcome is Round.FAILED:
                    pause, backoff = backoff, min(backoff * 2, settings.backoff_max_s)
                else:
                    backoff = settings.backoff_initial_s
                    pause = 0.0 if outcome is Round.BUSY else settings.idle_wait_s
                    if pause and self._busy():  # a finished attempt frees a slot and may unblock its aggregate
                        self._finished.wait(pause)
                        pause = 0.0
                    self._finished.clear()
                if self._wait(pause):
                    return

    def round(self, pool: ThreadPoolExecutor) -> Round:
        """Fan out what is new, then start what is due, as far as there are free slots."""
        self.status.last_round = time.monotonic()
        settings = self._settings
        try:
            fanned = 0
            if time.monotonic() >= self._next_fan_out:
                fanned = fan_out(uow=self._uow(), clock=self._clock, limit=settings.fan_out_batch)
                # Nothing new: look again after the idle wait, not at every finished attempt.
                self._next_fan_out = 0.0 if fanned else time.monotonic() + settings.idle_wait_s
            with self._lock:
                busy = dict(self._in_flight)
            free = settings.concurrency - sum(busy.values())
            if free <= 0:
                self._recovered()
                return Round.FULL
            claimed = self._claim(free, busy)
        except Exception as error:  # the database: any failure is retried after a pause
            self.status.problem = f"{type(error).__name__}: {error}"
            self._outage.failed(error)
            return Round.FAILED
        self._recovered()
        for delivery, endpoint, until in claimed:
            pool.submit(self._attempt, delivery, endpoint, until)
        if fanned == settings.fan_out_batch or len(claimed) == free:
            return Round.BUSY
        return Round.IDLE

    def _claim(self, free: int, busy: Mapping[int, int]) -> list[tuple[Delivery, WebhookEndpoint, datetime]]:
        now = self._clock.now()
        until = now + self._settings.lease
        with self._uow() as uow:
            deliveries = uow.deliveries.claim(now, until, free, busy, self._settings.per_endpoint)
            endpoints: dict[int, WebhookEndpoint | None] = {}
            for delivery in deliveries:
                if delivery.endpoint_id not in endpoints:
                    endpoints[delivery.endpoint_id] = uow.webhooks.get(delivery.endpoint_id)
            uow.commit()
        claimed = []
        for delivery in deliveries:
            endpoint = endpoints[delivery.endpoint_id]
            if endpoint is None:
                continue  # removed between the two reads: its deliveries went with it
            with self._lock:
                self._in_flight[delivery.endpoint_id] = self._in_flight.get(delivery.endpoint_id, 0) + 1
            claimed.append((delivery, endpoint, until))
        return claimed

    def _attempt(self, delivery: Delivery, endpoint: WebhookEndpoint, claimed_until: datetime) -> None:
        try:
            self.attempt(delivery, endpoint, claimed_until)
        except Exception as error:  # the delivery stays claimed until its lease lapses, then is retried
            self._failures.failed(error)
        finally:
            with self._lock:
                left = self._in_flight[delivery.endpoint_id] - 1
                if left:
                    self._in_flight[delivery.endpoint_id] = left
                else:
                    del self._in_flight[delivery.endpoint_id]
            self._finished.set()

    def _busy(self) -> bool:
        with self._lock:
            return bool(self._in_flight)

    def attempt(self, delivery: Delivery, endpoint: WebhookEndpoint, claimed_until: datetime) -> None:
        """Send one claimed delivery, sign it with every secret in use, and store what followed."""
        assert endpoint.id is not None
        settings = self._settings
        at = self._clock.now()
        timestamp = int(at.timestamp())
        headers = {
            **delivery.trace_context,
            "Content-Type": "application/json",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                endpoint.signing_secrets(at), delivery.event_id, timestamp, delivery.body
            ),
        }
        answer = self._sender.send(endpoint.url, delivery.body, headers)
        verdict = delivery.record(answer, at=at, schedule=settings.schedule, draw=self._draw())
        now = self._clock.now()
        disabled: str | None = None
        with self._uow() as uow:
            if not uow.deliveries.finish(delivery, claimed_until):
                log.info("webhooks: delivery %s was redelivered or reclaimed meanwhile", delivery.id)
                return
            if endpoint.needs_record(verdict, now, settings.disable_after):
                locked = uow.webhooks.get_for_update(endpoint.id)
                if locked is not None:
                    was_enabled = locked.enabled
                    locked.record(verdict, now, settings.disable_after)
                    uow.webhooks.save(locked)
                    if was_enabled and not locked.enabled and locked.disabled_reason is not None:
                        disabled = locked.disabled_reason.value
            uow.commit()
        self._metrics.attempted(delivery.event_type, delivery.status, answer.duration_ms / 1000)
        if delivery.status is DeliveryStatus.SUCCEEDED:
            self._metrics.delivered((now - delivery.created_at).total_seconds())
        if disabled is not None:
            log.warning("webhooks: endpoint %s disabled (%s)", endpoint.id, disabled)
            self._metrics.disabled(disabled)

    def _recovered(self) -> None:
        self._outage.recovered()
        self.status.problem = None
        self.status.last_success = time.monotonic()
