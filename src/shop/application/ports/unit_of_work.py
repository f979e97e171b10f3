from __future__ import annotations

from typing import Protocol, Self

from shop.application.ports.idempotency import IdempotencyRepository
from shop.application.ports.orders import OrderRepository
from shop.application.ports.outbox import OutboxRepository
from shop.application.ports.products import ProductRepository
from shop.application.ports.tokens import TokenRepository
from shop.application.ports.users import UserRepository
from shop.application.ports.webhooks import DeliveryRepository, WebhookRepository
from shop.domain.events import Event


class UnitOfWork(Protocol):
    """A transaction over every repository; rolled back on exit unless committed.

    Aggregates saved through its repositories hand it their events. commit() writes the messages
    of those that leave the service to the outbox in the same transaction, commits, and only then
    hands every event to the message bus. Nothing of a unit of work that ends without commit() is
    kept, its events included.
    """

    @property
    def users(self) -> UserRepository: ...

    @property
    def products(self) -> ProductRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def webhooks(self) -> WebhookRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    def record(self, event: Event) -> None:
        """An event of a change that no aggregate carries (a logout): handled with the others."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None:
        """Roll back whatever was not committed."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
