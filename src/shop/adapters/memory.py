"""In-memory repositories and unit of work: every use case runs without a database.

Repositories hand out copies, so an entity changed but not saved changes nothing, and a unit of
work that ends without commit() restores the state it started from. One lock serializes units of
work, which is what row locks give the real databases.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Self, TypeVar

import orjson

from shop.application.errors import AlreadyExists, KeyInUse, OrderOutdated
from shop.application.messagebus import MessageBus
from shop.application.messages import Message, OutboxEntry, envelope
from shop.application.ports import (
    AccessState,
    Backlog,
    OrderQuery,
    Page,
    ProductQuery,
    RefreshToken,
    StoredPlacement,
)
from shop.application.unit_of_work import EventCollector, EventfulUnitOfWork
from shop.domain.orders import Order
from shop.domain.products import Product
from shop.domain.users import User

T = TypeVar("T")


@dataclass
class _UsedRefresh:
    token: RefreshToken
    used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass
class _OutboxRow:
    entry: OutboxEntry
    message: Message
    sent_at: datetime | None = None


@dataclass
class MemoryState:
    users: dict[int, User] = field(default_factory=dict)
    products: dict[int, Product] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    refresh_tokens: dict[str, _UsedRefresh] = field(default_factory=dict)
    revoked_access: dict[str, datetime] = field(default_factory=dict)
    revoked_families: set[str] = field(default_factory=set)
    responses: dict[tuple[int, str], StoredPlacement] = field(default_factory=dict)
    outbox: dict[int, _OutboxRow] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=lambda: {"users": 1, "products": 1, "orders": 1, "outbox": 1})

    def allocate(self, table: str) -> int:
        ident = self.next_id[table]
        self.next_id[table] = ident + 1
        return ident


def _page(items: Iterable[T], page: Page) -> tuple[list[T], int]:
    everything = list(items)
    return everything[page.offset : page.offset + page.size], len(everything)


def _stored(entity: T, collector: EventCollector) -> T:
    """The copy the store keeps: the events go to the unit of work, not into storage."""
    collector.take_events(entity)  # type: ignore[arg-type]
    return copy.deepcopy(entity)


class MemoryUserRepository:
    def __init__(self, state: Callable[[], MemoryState], collector: EventCollector) -> None:
        self._state = state
        self._collector = collector

    def add(self, user: User) -> None:
        state = self._state()
        self._check_unique(state, user)
        user.id = state.allocate("users")
        state.users[user.id] = _stored(user, self._collector)

    def get(self, user_id: int) -> User | None:
        return copy.deepcopy(self._state().users.get(user_id))

    def get_for_update(self, user_id: int) -> User | None:
        return self.get(user_id)  # the unit of work holds the store's lock already

    def get_by_username(self, username: str) -> User | None:
        key = username.lower()
        found = next((u for u in self._state().users.values() if u.username.lower() == key), None)
        return copy.deepcopy(found)

    def list(self, page: Page) -> tuple[list[User], int]:
        active = (u for _, u in sorted(self._state().users.items()) if u.active)
        items, total = _page(active, page)
        return copy.deepcopy(items), total

    def save(self, user: User) -> None:
        assert user.id is not None
        state = self._state()
        self._check_unique(state, user)
        state.users[user.id] = _stored(user, self._collector)

    @staticmethod
    def _check_unique(state: MemoryState, user: User) -> None:
        key = user.username.lower()  # as the databases' unique index on lower(username)
        if any(u.username.lower() == key and u.id != user.id for u in state.users.values()):
            raise AlreadyExists("username", f"A user named {user.username!r} already exists.")


class MemoryProductRepository:
    def __init__(self, state: Callable[[], MemoryState], collector: EventCollector) -> None:
        self._state = state
        self._collector = collector

    def add(self, product: Product) -> None:
        state = self._state()
        self._check_unique(state, product)
        product.id = state.allocate("products")
        state.products[product.id] = _stored(product, self._collector)

    def get(self, product_id: int) -> Product | None:
        product = self._state().products.get(product_id)
        return copy.deepcopy(product) if product is not None and not product.deleted else None

    def get_many(self, product_ids: Sequence[int]) -> dict[int, Product]:
        return self.get_for_update(product_ids)  # the unit of work holds the store's lock already

    def get_for_update(self, product_ids: Sequence[int], *, include_deleted: bool = False) -> dict[int, Product]:
        products = self._state().products
        return {
            pid: copy.deepcopy(products[pid])
            for pid in sorted(set(product_ids))
            if pid in products and (include_deleted or not products[pid].deleted)
        }

    def list(self, query: ProductQuery) -> tuple[list[Product], int]:
        matching = [p for p in self._state().products.values() if not p.deleted and _matches(p, query)]
        for key in reversed((*query.sort, "id")):
            matching.sort(key=_sort_key(key.lstrip("-")), reverse=key.startswith("-"))
        items, total = _page(matching, query.page)
        return copy.deepcopy(items), total

    def save(self, product: Product) -> None:
        assert product.id is not None
        state = self._state()
        self._check_unique(state, product)
        state.products[product.id] = _stored(product, self._collector)

    @staticmethod
    def _check_unique(state: MemoryState, product: Product) -> None:
        # Like the SQL partial index (WHERE NOT deleted): a deleted product holds no name.
        if product.deleted:
            return
        if any(p.name == product.name and p.id != product.id and not p.deleted for p in state.products.values()):
            raise AlreadyExists("name", f"A product named {product.name!r} already exists.")


def _sort_key(name: str) -> Callable[[Product], Any]:
    if name == "price":
        return lambda product: product.price.amount
    if name == "name":
        return lambda product: product.name.casefold()
    return lambda product: getattr(product, name)


def _matches(p: Product, query: ProductQuery) -> bool:
    amount: Decimal = p.price.amount
    return (
        (query.price is None or amount == query.price)
        and (query.stock is None or p.stock == query.stock)
        and (query.min_price is None or amount >= query.min_price)
        and (query.max_price is None or amount <= query.max_price)
        and (query.in_stock is None or (p.stock > 0) == query.in_stock)
        and (query.q is None or query.q.casefold() in p.name.casefold())
    )


class MemoryOrderRepository:
    def __init__(self, state: Callable[[], MemoryState], collector: EventCollector) -> None:
        self._state = state
        self._collector = collector

    def add(self, order: Order) -> None:
        state = self._state()
        products = state.products
        for line in order.lines:
            product = products.get(line.product_id)
            if (
                product is None
                or product.deleted
                or (product.name, product.price) != (line.name, line.unit_price)
                or product.stock < line.quantity
            ):
                raise OrderOutdated(f"product {line.product_id} changed")
        for line in order.lines:
            products[line.product_id].take(line.quantity)
        order.id = state.allocate("orders")
        state.orders[order.id] = _stored(order, self._collector)

    def get(self, order_id: int) -> Order | None:
        return copy.deepcopy(self._state().orders.get(order_id))

    get_for_update = get

    def page(self, query: OrderQuery) -> list[Order]:
        items, _total = _page(self._matching(query), query.page)
        return copy.deepcopy(items)

    def count(self, query: OrderQuery) -> int:
        return sum(1 for _ in self._matching(query))

    def _matching(self, query: OrderQuery) -> Iterator[Order]:
        return (
            o
            for _, o in sorted(self._state().orders.items())
            if (query.user_id is None or o.user_id == query.user_id)
            and (query.status is None or o.status is query.status)
        )

    def save(self, order: Order) -> None:
        assert order.id is not None
        self._state().orders[order.id] = _stored(order, self._collector)


class MemoryTokenRepository:
    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def add_refresh(self, token: RefreshToken) -> None:
        self._state().refresh_tokens[token.jti] = _UsedRefresh(token)

    def use_refresh(self, jti: str, now: datetime) -> RefreshToken | None:
        entry = self._state().refresh_tokens.get(jti)
        if entry is None or entry.used_at is not None or entry.revoked_at is not None:
            return None
        entry.used_at = now
        return entry.token

    def is_refresh_usable(self, jti: str, now: datetime) -> bool:
        entry = self._state().refresh_tokens.get(jti)
        return entry is not None and entry.used_at is None and entry.revoked_at is None and entry.token.expires_at > now

    def revoke_family(self, family: str, now: datetime) -> None:
        state = self._state()
        state.revoked_families.add(family)
        for entry in state.refresh_tokens.values():
            if entry.token.family == family and entry.revoked_at is None:
                entry.revoked_at = now

    def revoke_access(self, jti: str, expires_at: datetime) -> None:
        self._state().revoked_access[jti] = expires_at

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        user = self._state().users.get(user_id)
        if user is None:
            return None
        state = self._state()
        revoked = jti in state.revoked_access or family in state.revoked_families
        return AccessState(user.role, user.active, user.token_version, revoked)

    def purge_expired(self, now: datetime) -> int:
        state = self._state()
        expired = [jti for jti, e in state.refresh_tokens.items() if e.token.expires_at <= now]
        gone = [jti for jti, at in state.revoked_access.items() if at <= now]
        for jti in expired:
            del state.refresh_tokens[jti]
        for jti in gone:
            del state.revoked_access[jti]
        return len(expired) + len(gone)


class MemoryIdempotencyRepository:
    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def get(self, user_id: int, key: str) -> StoredPlacement | None:
        return self._state().responses.get((user_id, key))

    def keep(self, placement: StoredPlacement) -> None:
        responses = self._state().responses
        if (placement.user_id, placement.key) in responses:
            raise KeyInUse()
        responses[(placement.user_id, placement.key)] = copy.deepcopy(placement)

    def delete(self, user_id: int, key: str) -> None:
        self._state().responses.pop((user_id, key), None)

    def purge_older_than(self, moment: datetime) -> int:
        responses = self._state().responses
        old = [ident for ident, stored in responses.items() if stored.created_at < moment]
        for ident in old:
            del responses[ident]
        return len(old)


class MemoryOutboxRepository:
    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def add(self, messages: Sequence[Message]) -> None:
        state = self._state()
        for message in messages:
            position, event_id = state.allocate("outbox"), str(uuid.uuid4())
            body = orjson.dumps(envelope(message, event_id))
            entry = OutboxEntry(position, event_id, message.type, message.occurred_at, body)
            state.outbox[position] = _OutboxRow(entry, message)

    def pending(self, limit: int) -> list[OutboxEntry]:
        rows = (row for _, row in sorted(self._state().outbox.items()) if row.sent_at is None)
        return [row.entry for row in itertools.islice(rows, limit)]

    def mark_sent(self, positions: Sequence[int], now: datetime) -> None:
        outbox = self._state().outbox
        for position in positions:
            outbox[position].sent_at = now

    def backlog(self) -> Backlog:
        pending = [row.entry.occurred_at for row in self._state().outbox.values() if row.sent_at is None]
        return Backlog(len(pending), min(pending, default=None))

    def purge_sent_before(self, moment: datetime) -> int:
        outbox = self._state().outbox
        old = [position for position, row in outbox.items() if row.sent_at is not None and row.sent_at < moment]
        for position in old:
            del outbox[position]
        return len(old)

    def messages(self) -> list[Message]:
        """Every message written, sent or not, oldest first: what tests look at."""
        return [row.message for _, row in sorted(self._state().outbox.items())]


class MemoryStore:
    """The data every in-memory unit of work shares, like a database server."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = threading.RLock()


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


class MemoryMetrics:
    """Counts the business events in a Counter, for tests and for running the use cases alone."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def order_placed(self) -> None:
        self.counts["order_placed"] += 1

    def order_cancelled(self) -> None:
        self.counts["order_cancelled"] += 1

    def order_fulfilled(self) -> None:
        self.counts["order_fulfilled"] += 1

    def stock_rejected(self) -> None:
        self.counts["stock_rejected"] += 1

    def login_failed(self) -> None:
        self.counts["login_failed"] += 1
