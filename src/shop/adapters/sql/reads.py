"""The views' database side: one connection per read, from the one place that picks it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy import Connection, Engine

from shop.adapters.sql.connection import LazyConnection
from shop.adapters.sql.orders import SqlOrderRepository
from shop.adapters.sql.products import SqlProductRepository
from shop.adapters.sql.replicas import PRIMARY, ReadRouter
from shop.adapters.sql.tokens import SqlTokenRepository
from shop.adapters.sql.users import SqlUserRepository
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.ports.reads import Consistency
from shop.application.ports.replicas import Guarantee
from shop.application.ports.tokens import AccessState
from shop.application.reads import current_reader
from shop.application.unit_of_work import EventCollector
from shop.domain.orders import Order
from shop.domain.products import Product


class SqlReadConnection:
    """The queries of the views on one connection; only those a read asks for are set up."""

    def __init__(self, conn: LazyConnection) -> None:
        self._conn = conn

    @cached_property
    def _products(self) -> SqlProductRepository:
        return SqlProductRepository(self._conn, EventCollector())

    @cached_property
    def _orders(self) -> SqlOrderRepository:
        return SqlOrderRepository(self._conn, EventCollector())

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        return SqlTokenRepository(self._conn).access_state(user_id, jti, family)

    def product(self, product_id: int) -> Product | None:
        return self._products.get(product_id)

    def products(self, query: ProductQuery) -> Listing[Product]:
        return self._products.list(query)

    def order(self, order_id: int) -> Order | None:
        return self._orders.get(order_id)

    def orders(self, query: OrderQuery) -> Listing[Order]:
        return self._orders.list(query)

    def user_id(self, username: str) -> int | None:
        user = SqlUserRepository(self._conn, EventCollector()).get_by_username(username)
        return user.id if user is not None else None


class SqlReads:
    """Every read on the read-only engine, unless streaming replicas are configured (router): then a
    MAY_LAG read goes where the router's rule says (a replica holding the reader's own writes, at
    most REPLICA_MAX_LAG_MS behind), with the guarantee `lagging` (EVERY_WRITE when what it reads
    fills the shared cache). FRESH reads stay on the primary, always."""

    def __init__(
        self, engine: Engine, *, router: ReadRouter | None = None, lagging: Guarantee = Guarantee.READ_YOUR_WRITES
    ) -> None:
        self._engine = engine
        self._router = router
        self._lagging = lagging
        self.routes_lagging = router is not None

    @contextmanager
    def connection(self, consistency: Consistency) -> Iterator[SqlReadConnection]:
        router = self._router
        if router is None or consistency is Consistency.FRESH:
            conn = LazyConnection(self._engine)
            try:
                yield SqlReadConnection(conn)
            finally:
                conn.close()
            return
        reader = current_reader()
        source = PRIMARY

        def routed() -> Connection:
            nonlocal source
            source, connection = router.open(self._lagging, reader)
            return connection

        conn = LazyConnection(self._engine, opener=routed)
        try:
            yield SqlReadConnection(conn)
        finally:
            try:
                if conn.opened is not None:
                    router.after_read(source, conn.opened, reader)
            finally:
                conn.close()
