from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from shop.adapters.memory.store import MemoryState, page_of, stored
from shop.application.ports.orders import OrderQuery, Sales
from shop.application.ports.paging import Listing
from shop.application.unit_of_work import EventCollector
from shop.domain.money import Money
from shop.domain.orders import Order, OrderStatus

_SORT_KEYS: dict[str, Callable[[Order], Any]] = {
    "created_at": lambda order: order.created_at,
    "id": lambda order: order.id,
    "status": lambda order: order.status.value,
    "total": lambda order: order.total.amount,
}


class MemoryOrderRepository:
    def __init__(self, state: Callable[[], MemoryState], collector: EventCollector) -> None:
        self._state = state
        self._collector = collector

    def reserve_id(self) -> None:
        return None  # the store's lock is held already: nothing to gain

    def add(self, order: Order) -> None:
        """The domain decided on the products as this unit of work read them, under the store's lock
        that the unit of work holds; their stock is taken here, by the domain's own Product.take."""
        state = self._state()
        for line in order.lines:
            state.products[line.product_id].take(line.quantity)
        order.id = state.allocate("orders")
        state.orders[order.id] = stored(order, self._collector)

    def get(self, order_id: int) -> Order | None:
        return copy.deepcopy(self._state().orders.get(order_id))

    get_for_update = get

    def list(self, query: OrderQuery) -> Listing[Order]:
        matching = [
            o
            for o in self._state().orders.values()
            if (query.user_id is None or o.user_id == query.user_id)
            and (query.status is None or o.status is query.status)
        ]
        for key in reversed(query.ordering):
            matching.sort(key=_SORT_KEYS[key.lstrip("-")], reverse=key.startswith("-"))
        return page_of(matching, query.page)

    def sales(self, since: datetime) -> Sales:
        placed = [o for o in self._state().orders.values() if o.created_at >= since]
        revenue: dict[str, Decimal] = defaultdict(Decimal)
        for order in placed:
            if order.status is not OrderStatus.CANCELLED:
                revenue[order.currency] += order.total.amount
        return Sales(len(placed), tuple(Money.trusted(revenue[c], c) for c in sorted(revenue)))

    def save(self, order: Order) -> None:
        assert order.id is not None
        self._state().orders[order.id] = stored(order, self._collector)
