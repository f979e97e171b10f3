"""What webhooks need from the outside world: their storage, a sender that reaches only addresses the
rules allow, a resolver of names, and a sealer that keeps secrets unreadable at rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shop.application.ports.paging import Listing, Page
from shop.domain.webhooks import Answer, Delivery, WebhookEndpoint


@dataclass(frozen=True, slots=True)
class DeliveryBacklog:
    """The deliveries still waiting (pending or retrying) for enabled endpoints."""

    waiting: int
    oldest: datetime | None  # when the oldest of them was made


@dataclass(frozen=True, slots=True)
class Standing:
    """An endpoint as the metrics see it."""

    endpoint_id: int
    enabled: bool
    failing_since: datetime | None


class WebhookRepository(Protocol):
    def add(self, endpoint: WebhookEndpoint) -> None: ...

    def get(self, endpoint_id: int) -> WebhookEndpoint | None: ...

    def get_for_update(self, endpoint_id: int) -> WebhookEndpoint | None:
        """The endpoint, locked until the transaction ends: the deliverer and a manager's edit
        can't overwrite each other."""

    def save(self, endpoint: WebhookEndpoint) -> None: ...

    def remove(self, endpoint_id: int) -> None:
        """Forget the endpoint, and its deliveries with it."""

    def enabled(self) -> list[WebhookEndpoint]: ...

    def standings(self) -> list[Standing]: ...

    def list(self, page: Page) -> Listing[WebhookEndpoint]:
        """Oldest first."""


class DeliveryRepository(Protocol):
    def add(self, deliveries: Sequence[Delivery]) -> None:
        """Each gets an id that orders it after every delivery added before."""

    def get(self, endpoint_id: int, delivery_id: int) -> Delivery | None: ...

    def save(self, delivery: Delivery) -> None:
        """Its state and its new attempts; a claim on it ends (see finish)."""

    def claim(
        self, now: datetime, until: datetime, limit: int, busy: Mapping[int, int], per_endpoint: int
    ) -> list[Delivery]:
        """Up to limit deliveries due by now and claimed by nobody, of enabled endpoints, each the
        earliest still waiting of its endpoint and aggregate, oldest due first; claimed until `until`
        (a deliverer that dies loses them then). An endpoint with busy[id] attempts under way gets at
        most per_endpoint minus those. They come without their past attempts."""

    def finish(self, delivery: Delivery, claimed_until: datetime) -> bool:
        """Store the outcome and the attempts a claimed delivery holds, if its claim (made until
        claimed_until) still holds: nobody asked for a redelivery, the claim has not lapsed to
        another deliverer, the endpoint still exists."""

    def backlog(self) -> DeliveryBacklog: ...

    def purge_finished_before(self, moment: datetime) -> int:
        """Forget deliveries that succeeded or failed before moment, with their attempts."""

    def list(self, endpoint_id: int, page: Page) -> Listing[Delivery]:
        """An endpoint's deliveries, newest first, each with its attempts."""


class Sealer(Protocol):
    """Keeps endpoint secrets unreadable in the database, yet readable to sign."""

    def seal(self, secret: bytes) -> str: ...

    def open(self, sealed: str) -> bytes: ...


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses host resolves to (an address resolves to itself); OSError when it can't."""


class WebhookSender(Protocol):
    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST body to url, connecting only to an address the rules allow (checked once resolved),
        following no redirect, within the sender's deadlines. Failures are answers too."""
