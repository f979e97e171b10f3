"""The data every in-memory unit of work shares, and what its repositories have in common."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from shop.application.messages import Message, OutboxEntry
from shop.application.ports.idempotency import StoredPlacement
from shop.application.ports.paging import Listing, Page
from shop.application.ports.tokens import RefreshToken
from shop.application.unit_of_work import EventCollector
from shop.domain.orders import Order
from shop.domain.products import Product
from shop.domain.users import User
from shop.domain.webhooks import Delivery, WebhookEndpoint

T = TypeVar("T")


@dataclass
class UsedRefresh:
    token: RefreshToken
    used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass
class OutboxRow:
    entry: OutboxEntry
    message: Message
    sent_at: datetime | None = None
    fanned_out_at: datetime | None = None


@dataclass
class DeliveryRow:
    delivery: Delivery
    claimed_until: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class MemoryState:
    users: dict[int, User] = field(default_factory=dict)
    products: dict[int, Product] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    refresh_tokens: dict[str, UsedRefresh] = field(default_factory=dict)
    revoked_access: dict[str, datetime] = field(default_factory=dict)
    revoked_families: set[str] = field(default_factory=set)
    responses: dict[tuple[int, str], StoredPlacement] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    webhooks: dict[int, WebhookEndpoint] = field(default_factory=dict)
    deliveries: dict[int, DeliveryRow] = field(default_factory=dict)
    next_id: dict[str, int] = field(
        default_factory=lambda: {"users": 1, "products": 1, "orders": 1, "outbox": 1, "webhooks": 1, "deliveries": 1}
    )

    def allocate(self, table: str) -> int:
        ident = self.next_id[table]
        self.next_id[table] = ident + 1
        return ident


def page_of(items: Iterable[T], page: Page) -> Listing[T]:
    """Copies of one page of items, and how many there are."""
    everything = list(items)
    return Listing(copy.deepcopy(everything[page.offset : page.offset + page.size]), len(everything))


def stored(entity: T, collector: EventCollector) -> T:
    """The copy the store keeps: the events go to the unit of work, not into storage."""
    collector.take_events(entity)  # type: ignore[arg-type]
    return copy.deepcopy(entity)


class MemoryStore:
    """The data every in-memory unit of work shares, like a database server."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = threading.RLock()
