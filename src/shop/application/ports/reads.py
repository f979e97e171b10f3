"""The database side of the views (application/views.py): one connection per read.

Every view takes its connection from `Reads.connection`, naming the consistency it needs, so that
one place decides where reads go (a replica router can be plugged in there: issue 19).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from enum import StrEnum
from typing import Protocol

from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.ports.tokens import AccessState
from shop.domain.orders import Order
from shop.domain.products import Product


class Consistency(StrEnum):
    FRESH = "fresh"  # must see every committed write: the standing of a token (revocation is immediate)
    MAY_LAG = "may_lag"  # may be a moment behind: the catalog, order pages (the cache is as old)


class ReadConnection(Protocol):
    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None: ...

    def product(self, product_id: int) -> Product | None: ...

    def products(self, query: ProductQuery) -> Listing[Product]: ...

    def order(self, order_id: int) -> Order | None: ...

    def orders(self, query: OrderQuery) -> Listing[Order]: ...

    def user_id(self, username: str) -> int | None:
        """The id of the account with this username, whatever its case, closed or not."""


class Reads(Protocol):
    # Whether a MAY_LAG read may be served elsewhere than a FRESH one (a read router with replicas):
    # then a view reads its page on a connection of its own rather than on its standing's.
    routes_lagging: bool

    def connection(self, consistency: Consistency) -> AbstractContextManager[ReadConnection]: ...
