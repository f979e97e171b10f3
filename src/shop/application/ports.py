from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, Self

from shop.application.messages import Message, OutboxEntry
from shop.domain.events import Event
from shop.domain.orders import Order, OrderStatus
from shop.domain.products import Product
from shop.domain.users import Role, User


@dataclass(frozen=True, slots=True)
class Page:
    number: int = 1
    size: int = 20

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True, slots=True)
class ProductQuery:
    page: Page = Page()
    price: Decimal | None = None
    stock: int | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    q: str | None = None
    # Column names, a leading "-" for descending; id is always the last tie-breaker.
    sort: tuple[str, ...] = ()


PRODUCT_SORT_KEYS = frozenset({"id", "name", "price", "stock"})


@dataclass(frozen=True, slots=True)
class OrderQuery:
    page: Page = Page()
    user_id: int | None = None
    status: OrderStatus | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    jti: str
    family: str
    user_id: int
    expires_at: datetime


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Store a new user and set its id; AlreadyExists when the username is taken."""

    def get(self, user_id: int) -> User | None: ...

    def get_for_update(self, user_id: int) -> User | None:
        """As get, and no other transaction changes the user until this one ends."""

    def get_by_username(self, username: str) -> User | None: ...

    def list(self, page: Page) -> tuple[list[User], int]: ...

    def save(self, user: User) -> None:
        """Write back a changed user; AlreadyExists when the new username is taken."""


class ProductRepository(Protocol):
    def add(self, product: Product) -> None:
        """Store a new product and set its id; AlreadyExists when the name is taken."""

    def get(self, product_id: int) -> Product | None:
        """A product of the catalog; None when unknown or deleted."""

    def get_many(self, product_ids: Sequence[int]) -> dict[int, Product]:
        """Products of the catalog by id, read without a lock; unknown and deleted ones are left out."""

    def get_for_update(self, product_ids: Sequence[int], *, include_deleted: bool = False) -> dict[int, Product]:
        """Products by id, locked until the unit of work ends, locks taken in id order.

        Deleted products are left out unless include_deleted.
        """

    def list(self, query: ProductQuery) -> tuple[list[Product], int]: ...

    def save(self, product: Product) -> None:
        """Write back name, price, stock and deleted; AlreadyExists when the name is taken."""


class OrderRepository(Protocol):
    def add(self, order: Order) -> None:
        """Store a new order and take the stock of its lines, as one step, and set its id.

        Each product must still be as the order saw it: the name, price and currency its line copied,
        not deleted, and enough stock for its quantity. Otherwise nothing is written and OrderOutdated
        is raised, by add() or at the latest by commit(). The products' row locks are taken in id
        order, and held for as little time as the database allows: the domain decided before."""

    def get(self, order_id: int) -> Order | None: ...

    def get_for_update(self, order_id: int) -> Order | None: ...

    def page(self, query: OrderQuery) -> list[Order]:
        """The query's page of orders, oldest first, with their lines."""

    def count(self, query: OrderQuery) -> int:
        """How many orders match the query, all pages together."""

    def save(self, order: Order) -> None:
        """Write back status and timestamps."""


@dataclass(frozen=True, slots=True)
class AccessState:
    """What decides whether an access token still works: its user's standing and revocations."""

    role: Role
    active: bool
    token_version: int
    revoked: bool


class TokenRepository(Protocol):
    def add_refresh(self, token: RefreshToken) -> None: ...

    def use_refresh(self, jti: str, now: datetime) -> RefreshToken | None:
        """Mark a refresh token used, once: None when unknown, already used or revoked."""

    def is_refresh_usable(self, jti: str, now: datetime) -> bool:
        """True while a refresh token is unused, unrevoked and unexpired."""

    def revoke_family(self, family: str, now: datetime) -> None: ...

    def revoke_access(self, jti: str, expires_at: datetime) -> None: ...

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        """The user's role, standing and token version, and whether the token was revoked, in one read;
        None when the user does not exist."""

    def purge_expired(self, now: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class StoredPlacement:
    """An order placed with an Idempotency-Key, kept so that a retry gets the first answer again."""

    user_id: int
    key: str
    fingerprint: str
    created_at: datetime
    order: Mapping[str, Any] | None  # the order as first shown; None while the first request still runs


class IdempotencyRepository(Protocol):
    def get(self, user_id: int, key: str) -> StoredPlacement | None: ...

    def keep(self, placement: StoredPlacement) -> None:
        """Keep the answer to a request made with a key, in the transaction of its order. KeyInUse (by
        keep() or at the latest by commit()) when the key is taken, a concurrent holder's transaction
        being waited for first."""

    def delete(self, user_id: int, key: str) -> None: ...

    def purge_older_than(self, moment: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class Backlog:
    """The messages still waiting in the outbox."""

    pending: int
    oldest: datetime | None  # when the oldest of them happened


class OutboxRepository(Protocol):
    def add(self, messages: Sequence[Message]) -> None:
        """Keep messages to send, in the transaction of the change they tell: a change rolled back
        leaves none, a committed one always has its messages. Each gets an id of its own."""

    def pending(self, limit: int) -> list[OutboxEntry]:
        """The oldest unsent messages, in the order they were written."""

    def mark_sent(self, positions: Sequence[int], now: datetime) -> None: ...

    def backlog(self) -> Backlog: ...

    def purge_sent_before(self, moment: datetime) -> int:
        """Forget the messages sent before moment; unsent ones are kept whatever their age."""


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

    def record(self, event: Event) -> None:
        """An event of a change that no aggregate carries (a logout): handled with the others."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None:
        """Roll back whatever was not committed."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class CatalogCache(Protocol):
    """Reads shared by every worker and instance: products, and the totals of order listings (the
    X-Pagination total; counting a long order history is the costly part of a page).

    The handlers of product and order events call invalidate() once the change is committed and
    before the use case returns, so a read that starts after a write has returned never sees the
    old state. An order changes stock and its owner's listings at once: one call says both.
    """

    def product(self, product_id: int, load: Callable[[], Product | None]) -> Product | None: ...

    def page(self, query: ProductQuery, load: Callable[[], tuple[list[Product], int]]) -> tuple[list[Product], int]: ...

    def order_total(self, query: OrderQuery, load: Callable[[], int]) -> int: ...

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


class Metrics(Protocol):
    """Business events counted for the operators (the HTTP layer counts requests itself), by the
    handlers of the events: an order once its transaction committed, a stock-out or a failed login
    when it is refused."""

    def order_placed(self) -> None: ...

    def order_cancelled(self) -> None: ...

    def order_fulfilled(self) -> None: ...

    def stock_rejected(self) -> None: ...

    def login_failed(self) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real verify, so unknown usernames can't be told apart by timing."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...
