from __future__ import annotations

import copy
from typing import Self

from shop.adapters.memory.idempotency import MemoryIdempotencyRepository
from shop.adapters.memory.orders import MemoryOrderRepository
from shop.adapters.memory.outbox import MemoryOutboxRepository
from shop.adapters.memory.products import MemoryProductRepository
from shop.adapters.memory.store import MemoryState, MemoryStore
from shop.adapters.memory.tokens import MemoryTokenRepository
from shop.adapters.memory.users import MemoryUserRepository
from shop.adapters.memory.webhooks import MemoryDeliveryRepository, MemoryWebhookRepository
from shop.application.messagebus import MessageBus
from shop.application.unit_of_work import EventfulUnitOfWork


class MemoryUnitOfWork(EventfulUnitOfWork):
    def __init__(self, store: MemoryStore, bus: MessageBus | None = None) -> None:
        super().__init__(bus)
        self._store = store
        self._snapshot: MemoryState | None = None
        self.committed = False
        current = lambda: store.state  # noqa: E731
        self.users = MemoryUserRepository(current, self._collector)
        self.products = MemoryProductRepository(current, self._collector)
        self.orders = MemoryOrderRepository(current, self._collector)
        self.tokens = MemoryTokenRepository(current)
        self.idempotency = MemoryIdempotencyRepository(current)
        self.outbox = MemoryOutboxRepository(current)
        self.webhooks = MemoryWebhookRepository(current, self._collector)
        self.deliveries = MemoryDeliveryRepository(current)

    def __enter__(self) -> Self:
        self._store.lock.acquire()
        self._snapshot = copy.deepcopy(self._store.state)
        self.committed = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._snapshot is not None:
                self.rollback()
        finally:
            self._store.lock.release()

    def _commit(self) -> None:
        self._snapshot = copy.deepcopy(self._store.state)
        self.committed = True

    def _rollback(self) -> None:
        if self._snapshot is not None:
            self._store.state = self._snapshot
            self._snapshot = None
