from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shop.application.ports.paging import Listing, Page
from shop.domain.money import Money
from shop.domain.orders import Order, OrderStatus

ORDER_SORT_KEYS = frozenset({"created_at", "id", "status", "total"})
NEWEST_FIRST = ("-created_at",)


@dataclass(frozen=True, slots=True)
class OrderQuery:
    page: Page = Page()
    user_id: int | None = None
    status: OrderStatus | None = None
    # Keys of ORDER_SORT_KEYS, a leading "-" for descending: status alphabetically, total by amount.
    sort: tuple[str, ...] = NEWEST_FIRST

    @property
    def ordering(self) -> tuple[str, ...]:
        """The sort, then id in the direction of its last key, unless id is in it: one order, on
        every adapter, whatever the ties."""
        keys = self.sort or NEWEST_FIRST
        if any(key.lstrip("-") == "id" for key in keys):
            return keys
        return (*keys, "-id" if keys[-1].startswith("-") else "id")


@dataclass(frozen=True, slots=True)
class Sales:
    """The orders placed since a moment: how many, and what those not cancelled bring in, per
    currency (sorted by currency; none when nothing was sold)."""

    orders: int
    revenue: tuple[Money, ...]


class OrderRepository(Protocol):
    def reserve_id(self) -> None:
        """Where order ids come from a sequence (PostgreSQL), take the next order's now: the products'
        locks are then not held for that round trip too. add() uses it, or takes an id itself."""

    def add(self, order: Order) -> None:
        """Store a new order and take the stock of its lines, and set its id. The domain decided the
        order on its products as read with get_for_update in this unit of work (locked in id order), so
        each is still as the order saw it: its name, price and currency, not deleted, enough stock."""

    def get(self, order_id: int) -> Order | None: ...

    def get_for_update(self, order_id: int) -> Order | None: ...

    def list(self, query: OrderQuery) -> Listing[Order]:
        """The query's page of orders in its ordering, with their lines; pages past the end are empty."""

    def sales(self, since: datetime) -> Sales: ...

    def save(self, order: Order) -> None:
        """Write back status and timestamps."""
