from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.ports.tokens import AccessState
from shop.domain.orders import Order
from shop.domain.products import Product


class CatalogCache(Protocol):
    """Reads shared by every worker and instance: products, their listings, and the order listings
    of each customer and of the managers.

    The handlers of product and order events call invalidate() once the change is committed and
    before the use case returns, so a read that starts after a write has returned never sees the
    old state. An order changes stock and its owner's listings at once: one call says both.
    """

    def product(self, product_id: int, load: Callable[[], Product | None]) -> Product | None: ...

    def products(self, query: ProductQuery, load: Callable[[], Listing[Product]]) -> Listing[Product]: ...

    def orders(self, query: OrderQuery, load: Callable[[], Listing[Order]]) -> Listing[Order]: ...

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        """These products changed; with orders_of, so did that customer's orders."""


class AccessCache(Protocol):
    """The standing of access tokens, shared by every worker and instance. Whatever changes a
    user's tokens (password, role, deletion, logout, a reused refresh token) is a TokensRevoked
    event, whose handler calls forget_user() once it is committed and before the use case returns,
    so no request that starts after it has returned is let in on the old standing."""

    def state(
        self, user_id: int, jti: str, family: str, load: Callable[[], AccessState | None]
    ) -> AccessState | None: ...

    def forget_user(self, user_id: int) -> None: ...
