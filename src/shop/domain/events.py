"""What happened in the shop, as plain facts.

Aggregates record the events of their own changes in their `events` list; the unit of work takes
them when the aggregate is saved and hands them on once the change is committed. Events that change
nothing stored (a refused login, an order refused for stock) are handed straight to the message bus.

An event refers to its aggregate rather than copying it: the order's id, for one, exists only once
the order is stored, and whoever reads the event after the commit sees the order as committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shop.domain.errors import Shortage
    from shop.domain.orders import Order
    from shop.domain.products import Product
    from shop.domain.users import User
    from shop.domain.webhooks import WebhookEndpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    occurred_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPlaced(Event):
    order: Order


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(Event):
    order: Order


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFulfilled(Event):
    order: Order


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductCreated(Event):
    product: Product


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductChanged(Event):
    """A manager changed the product. Stock taken or given back by orders is told by the order events."""

    product: Product
    fields: frozenset[str]  # among "name", "price", "stock"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductDeleted(Event):
    product: Product


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRegistered(Event):
    user: User


@dataclass(frozen=True, slots=True, kw_only=True)
class TokensRevoked(Event):
    """Some or all tokens of a user stopped working: a password change, a promotion, a closed
    account, a logout, a reused refresh token."""

    user_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginFailed(Event):
    """A login was refused: unknown or closed account, or a wrong password."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRefused(Event):
    """An order was refused because stock was short; nothing was stored."""

    user_id: int
    shortages: Sequence[Shortage]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDisabled(Event):
    """The shop stopped delivering to a webhook endpoint by itself: it answered 410 Gone, or every
    attempt failed for too long."""

    endpoint: WebhookEndpoint
    reason: str  # "gone" or "failing"
