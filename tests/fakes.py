"""The one set of fakes every suite uses: stand-ins for the ports (clock, hasher, ids, caches,
broker, leadership, probes) and the one test password. Each implements its port exactly:
tests/conformance.py has mypy check them like the real adapters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shop.application.messagebus import MessageBus
from shop.application.messages import OutboxEntry
from shop.application.ports.broker import PublishFailed
from shop.application.ports.caches import Cached, Entry, TokenKey
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.ports.reads import Consistency
from shop.application.ports.tokens import AccessState
from shop.application.ports.unit_of_work import UnitOfWork
from shop.domain.events import Event
from shop.domain.orders import Order
from shop.domain.products import Product
from shop.domain.webhooks import Answer

PASSWORD = "correct-horse-battery"  # passes the policy; every suite signs up with it
START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


class FakeHasher:
    """A fast stand-in for argon2: a hash is '<scheme>$<password>'.

    Changing `scheme` makes every older hash need a rehash; `force_rehash` makes every hash need one.
    `on_hash` runs inside hash(), to simulate work done concurrently while a slow hash is computed.
    """

    def __init__(self, scheme: str = "plain") -> None:
        self.scheme = scheme
        self.force_rehash = False
        self.hash_calls: list[str] = []
        self.verify_calls: list[tuple[str, str]] = []
        self.dummy_calls: list[str] = []
        self.on_hash: Callable[[str], None] | None = None

    def encode(self, password: str) -> str:
        """The hash of a password, without recording a call."""
        return f"{self.scheme}${password}"

    def hash(self, password: str) -> str:
        self.hash_calls.append(password)
        if self.on_hash is not None:
            self.on_hash(password)
        return self.encode(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verify_calls.append((password_hash, password))
        _, separator, stored = password_hash.partition("$")
        return bool(separator) and stored == password

    def needs_rehash(self, password_hash: str) -> bool:
        return self.force_rehash or not password_hash.startswith(f"{self.scheme}$")

    def verify_dummy(self, password: str) -> None:
        self.dummy_calls.append(password)


class FakeClock:
    """A clock that stands still unless advanced, or moves by `step` after every reading."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(0)) -> None:
        self.current = start
        self.step = step

    def now(self) -> datetime:
        now = self.current
        self.current += self.step
        return now

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> datetime:
        self.current += delta
        return self.current


class CounterIds:
    """Ids "id-1", "id-2", ... in the order asked."""

    def __init__(self, prefix: str = "id") -> None:
        self.prefix = prefix
        self.count = 0

    def new_id(self) -> str:
        self.count += 1
        return f"{self.prefix}-{self.count}"


class MonotonicClock:
    """time.monotonic's stand-in: seconds that move only when a test sets `now`."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingBus(MessageBus):
    """Keeps every event it is handed, in order, and runs the handlers it was given."""

    def __init__(self, handlers: Any = None) -> None:
        super().__init__(handlers)
        self.events: list[Event] = []

    def publish(self, events: Iterable[Event]) -> None:
        events = list(events)
        self.events.extend(events)
        super().publish(events)

    def of(self, kind: type[Event]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


class RememberingCache:
    """The views' cache (ports/caches.py) in memory, versioned as the Redis one is; `missed` lists the
    kind of every entry it did not have."""

    def __init__(self) -> None:
        self.counters: Counter[tuple[str, str]] = Counter()
        self.values: dict[str, Any] = {}
        self.missed: list[str] = []

    def _slot(self, kind: str, scope: str, key: str) -> str:
        return f"{kind}:{scope}:{key}@{self.counters[(kind, scope)]}"

    def read(self, token: TokenKey | None, entry: Entry | None) -> Cached:
        standing_slot = body_slot = None
        found, standing, body = False, None, None
        if token is not None:
            standing_slot = self._slot("access", str(token[0]), f"{token[1]}:{token[2]}")
            if standing_slot in self.values:
                found, standing = True, self.values[standing_slot]
        if entry is not None:
            body_slot = self._slot(entry.kind, entry.scope, entry.key)
            body = self.values.get(body_slot)
            if body is None:
                self.missed.append(entry.kind)
        return Cached(found, standing, body, standing_slot, body_slot)

    def keep(self, cached: Cached, *, standing: AccessState | None = None, body: bytes | None = None) -> None:
        if cached.standing_slot is not None and not cached.standing_found:
            self.values[cached.standing_slot] = standing
        if body is not None and cached.body_slot is not None:
            self.values[cached.body_slot] = body

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        for product_id in product_ids:
            self.counters[("product", str(product_id))] += 1
        if product_ids:
            self.counters[("products", "catalog")] += 1
        if orders_of is not None:
            self.counters[("orders", str(orders_of))] += 1
            self.counters[("orders", "all")] += 1

    def forget_user(self, user_id: int) -> None:
        self.counters[("access", str(user_id))] += 1


class FakeBroker:
    """Confirms what it is given, except while `down`, or at the message numbered `fail_at`."""

    def __init__(self) -> None:
        self.received: list[OutboxEntry] = []
        self.down = False
        self.fail_at: int | None = None
        self.closed = 0

    def publish(self, entry: OutboxEntry) -> None:
        if self.down or len(self.received) == self.fail_at:
            raise PublishFailed("broker unreachable")
        self.received.append(entry)

    def close(self) -> None:
        self.closed += 1


class FakeLeadership:
    def __init__(self, leader: bool = True) -> None:
        self.leader = leader
        self.released = False

    def hold(self) -> bool:
        return self.leader

    def release(self) -> None:
        self.released = True


@dataclass
class FakeProbe:
    name: str
    failure: str | None = None
    asked: int = 0

    def problem(self) -> str | None:
        self.asked += 1
        return self.failure


class FixedResolver:
    """Names resolve as given (underscores in a keyword stand for dots); any other fails."""

    def __init__(self, **answers: list[str]) -> None:
        self.answers = {name.replace("_", "."): addresses for name, addresses in answers.items()}
        self.asked: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host in self.answers:
            return self.answers[host]
        raise OSError(f"{host}: unknown name")


class ScriptedSender:
    """An endpoint that answers in turn (then the last answer again), keeping what it was sent."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers) or [Answer(200)]
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        self.sent.append((url, body, dict(headers)))
        return self.answers[min(len(self.sent), len(self.answers)) - 1]


class ReadsThrough:
    """The views' reads (ports/reads.py) over any unit of work: the memory store's, in unit tests."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow
        self.consistencies: list[Consistency] = []
        self.routes_lagging = False  # True: as with a read router (replicas)

    @contextmanager
    def connection(self, consistency: Consistency) -> Iterator[_UowReadConnection]:
        self.consistencies.append(consistency)
        with self._uow() as uow:
            yield _UowReadConnection(uow)


class _UowReadConnection:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        return self._uow.tokens.access_state(user_id, jti, family)

    def product(self, product_id: int) -> Product | None:
        return self._uow.products.get(product_id)

    def products(self, query: ProductQuery) -> Listing[Product]:
        return self._uow.products.list(query)

    def order(self, order_id: int) -> Order | None:
        return self._uow.orders.get(order_id)

    def orders(self, query: OrderQuery) -> Listing[Order]:
        return self._uow.orders.list(query)

    def user_id(self, username: str) -> int | None:
        user = self._uow.users.get_by_username(username)
        return user.id if user is not None else None
