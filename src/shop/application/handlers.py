"""What follows each event inside the service: cached reads forgotten, business events counted.

`handlers()` is the one place that says which handler follows which event; the container builds
the message bus from it with the adapters of this process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shop.application.messagebus import Handler
from shop.application.ports.caches import AccessCache, CatalogCache
from shop.application.ports.services import Metrics
from shop.domain.events import (
    Event,
    LoginFailed,
    OrderCancelled,
    OrderFulfilled,
    OrderPlaced,
    OrderRefused,
    ProductChanged,
    ProductCreated,
    ProductDeleted,
    TokensRevoked,
)


def handlers(
    *, metrics: Metrics, catalog: CatalogCache | None = None, access: AccessCache | None = None
) -> dict[type[Event], list[Handler]]:
    """Every handler, by the event it follows; a cache that is not configured has none."""
    wired: dict[type[Event], list[Handler]] = {}

    def on(kind: type[Event], handler: Callable[[Any], None]) -> None:
        wired.setdefault(kind, []).append(handler)

    on(OrderPlaced, lambda _event: metrics.order_placed())
    on(OrderCancelled, lambda _event: metrics.order_cancelled())
    on(OrderFulfilled, lambda _event: metrics.order_fulfilled())
    on(OrderRefused, lambda _event: metrics.stock_rejected())
    on(LoginFailed, lambda _event: metrics.login_failed())
    if catalog is not None:
        on(OrderPlaced, lambda event: forget_order(event, catalog))
        on(OrderCancelled, lambda event: forget_order(event, catalog))
        on(OrderFulfilled, lambda event: catalog.invalidate([], orders_of=event.order.user_id))
        for kind in (ProductCreated, ProductChanged, ProductDeleted):
            on(kind, lambda event: catalog.invalidate([event.product.id]))
    if access is not None:
        on(TokensRevoked, lambda event: access.forget_user(event.user_id))
    return wired


def forget_order(event: OrderPlaced | OrderCancelled, catalog: CatalogCache) -> None:
    """Stock moved, and the owner's order listings changed: one call says both."""
    order = event.order
    catalog.invalidate([line.product_id for line in order.lines], orders_of=order.user_id)
