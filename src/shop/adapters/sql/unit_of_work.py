"""The SQL unit of work: one connection and one transaction over every repository."""

from __future__ import annotations

from functools import cached_property
from typing import Self

from sqlalchemy import Connection, Engine

from shop.adapters.sealing import NoSealer
from shop.adapters.sql.connection import LazyConnection
from shop.adapters.sql.idempotency import SqlIdempotencyRepository
from shop.adapters.sql.orders import SqlOrderRepository
from shop.adapters.sql.outbox import SqlOutboxRepository
from shop.adapters.sql.products import SqlProductRepository
from shop.adapters.sql.replicas import PRIMARY, ReadRouter
from shop.adapters.sql.tokens import SqlTokenRepository
from shop.adapters.sql.users import SqlUserRepository
from shop.adapters.sql.webhooks import SqlDeliveryRepository, SqlWebhookRepository
from shop.application.messagebus import MessageBus
from shop.application.ports.replicas import Guarantee
from shop.application.ports.webhooks import Sealer
from shop.application.reads import current_reader
from shop.application.unit_of_work import EventfulUnitOfWork


class SqlUnitOfWork(EventfulUnitOfWork):
    """One connection and one transaction; rolled back unless commit() was called. The connection is
    taken from the pool at the first statement, and each repository made when the transaction first
    uses it (an order uses four of the eight)."""

    def __init__(
        self,
        engine: Engine,
        bus: MessageBus | None = None,
        *,
        lock_timeout_ms: int | None = None,
        sealer: Sealer | None = None,
        router: ReadRouter | None = None,
        guarantee: Guarantee = Guarantee.PRIMARY,
    ) -> None:
        """lock_timeout_ms: how long its statements may wait for a row lock before Busy is raised.
        sealer: seals webhook secrets at rest; without one, webhooks can't be used (WebhooksNotConfigured).
        router: with streaming replicas, where reads needing less than the primary (guarantee) go,
        and who remembers how far each user's writes went; engine is then the primary's."""
        super().__init__(bus)
        self._engine = engine
        self._router = router
        self._guarantee = guarantee
        self._source = PRIMARY
        self._reader: int | None = None
        self._lock_timeout_ms = lock_timeout_ms
        self._sealer = sealer or NoSealer()
        self._conn: LazyConnection | None = None

    def __enter__(self) -> Self:
        routed = self._router is not None and self._guarantee is not Guarantee.PRIMARY
        self._conn = LazyConnection(
            self._engine, lock_timeout_ms=self._lock_timeout_ms, opener=self._routed if routed else None
        )
        for name in _REPOSITORIES:  # the repositories the last transaction made
            self.__dict__.pop(name, None)
        return self

    @property
    def _connection(self) -> LazyConnection:
        assert self._conn is not None, "a repository is used inside `with uow:` only"
        return self._conn

    @cached_property
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self._connection, self._collector)

    @cached_property
    def products(self) -> SqlProductRepository:
        return SqlProductRepository(self._connection, self._collector)

    @cached_property
    def orders(self) -> SqlOrderRepository:
        return SqlOrderRepository(self._connection, self._collector)

    @cached_property
    def tokens(self) -> SqlTokenRepository:
        return SqlTokenRepository(self._connection)

    @cached_property
    def idempotency(self) -> SqlIdempotencyRepository:
        return SqlIdempotencyRepository(self._connection)

    @cached_property
    def outbox(self) -> SqlOutboxRepository:  # type: ignore[override]  # read-only here: made per transaction
        return SqlOutboxRepository(self._connection)

    @cached_property
    def webhooks(self) -> SqlWebhookRepository:
        return SqlWebhookRepository(self._connection, self._collector, self._sealer)

    @cached_property
    def deliveries(self) -> SqlDeliveryRepository:
        return SqlDeliveryRepository(self._connection)

    def __exit__(self, *exc_info: object) -> None:
        assert self._conn is not None
        self._collector.events.clear()
        conn, self._conn = self._conn, None
        try:
            if self._router is not None and conn.opened is not None and self._guarantee is not Guarantee.PRIMARY:
                self._router.after_read(self._source, conn.opened, self._reader)
        finally:
            conn.close()

    def _routed(self) -> Connection:
        assert self._router is not None
        self._reader = current_reader()
        self._source, connection = self._router.open(self._guarantee, self._reader)
        return connection

    def _commit(self) -> None:
        assert self._conn is not None
        self._conn.commit()
        if self._router is not None and self._conn.opened is not None:
            self._router.after_write(self._conn.opened)

    def _rollback(self) -> None:
        assert self._conn is not None
        self._conn.deferred.clear()
        if self._conn.opened is not None:
            self._conn.opened.rollback()


# Every repository property: what a new transaction forgets.
_REPOSITORIES = tuple(name for name, value in vars(SqlUnitOfWork).items() if isinstance(value, cached_property))
