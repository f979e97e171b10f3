"""What each use case tells: the events it records, the messages it leaves in the outbox, and what
the handlers do with them (cache invalidation, metrics), only once the change is committed."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from types import ModuleType
from typing import TypeVar

import pytest

from shop.adapters.memory import MemoryMetrics, MemoryStore, MemoryUnitOfWork
from shop.adapters.memory.outbox import MemoryOutboxRepository
from shop.application import auth, orders, products, users
from shop.application.actors import Actor, TokenClaims
from shop.application.auth import Session
from shop.application.errors import AuthenticationFailed
from shop.application.messages import Message
from shop.application.orders import Idempotency
from shop.application.ports.caches import MISSED, Cached, Entry, TokenKey
from shop.application.ports.tokens import AccessState
from shop.application.products import ProductChanges
from shop.application.users import UserChanges
from shop.bootstrap import event_handlers
from shop.domain.errors import InsufficientStock, InvalidTransition
from shop.domain.events import Event, OrderPlaced, OrderRefused, ProductChanged
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from shop.domain.users import User
from tests.fakes import PASSWORD, START, CounterIds, FakeClock, FakeHasher, RecordingBus

from ..support import UseCases, assembled
from .conftest import actor_of

E = TypeVar("E", bound=Event)


class RecordingCache:
    """The views' cache, recording what the handlers tell it: invalidations as (products, whose
    orders), users whose tokens are forgotten."""

    def __init__(self) -> None:
        self.invalidated: list[tuple[list[int], int | None]] = []
        self.forgotten: list[int] = []

    def read(self, token: TokenKey | None, entry: Entry | None) -> Cached:
        return MISSED

    def keep(self, cached: Cached, *, standing: AccessState | None = None, body: bytes | None = None) -> None:
        pass

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        self.invalidated.append((sorted(product_ids), orders_of))

    def forget_user(self, user_id: int) -> None:
        self.forgotten.append(user_id)


@pytest.fixture
def metrics() -> MemoryMetrics:
    return MemoryMetrics()


@pytest.fixture
def cache() -> RecordingCache:
    return RecordingCache()


@pytest.fixture
def catalog(cache: RecordingCache) -> RecordingCache:
    return cache


@pytest.fixture
def access(cache: RecordingCache) -> RecordingCache:
    return cache


@pytest.fixture
def bus(metrics: MemoryMetrics, cache: RecordingCache) -> RecordingBus:
    """The service's own handlers, over a recording cache and metrics."""
    return RecordingBus(event_handlers(metrics=metrics, cache=cache))


@pytest.fixture
def tea(add_product: Callable[..., Product]) -> Product:
    return add_product("Tea", stock=5)


def kinds(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def outbox_messages(store: MemoryStore) -> list[Message]:
    """Every message a unit of work over the store left in the outbox, sent or not."""
    return MemoryOutboxRepository(lambda: store.state).messages()


def outbox_types(store: MemoryStore) -> list[str]:
    return [message.type for message in outbox_messages(store)]


def the(kind: type[E], event: Event) -> E:
    """The event, as the kind the test has just checked it is."""
    assert isinstance(event, kind)
    return event


def one(product: Product, quantity: int = 1) -> list[OrderItem]:
    assert product.id is not None
    return [OrderItem(product.id, quantity)]


# Orders


def test_an_order_tells_it_was_placed_and_forgets_its_stock_and_listings(
    use: UseCases,
    customer: Actor,
    tea: Product,
    add_product: Callable[..., Product],
    bus: RecordingBus,
    catalog: RecordingCache,
    metrics: MemoryMetrics,
    store: MemoryStore,
) -> None:
    cake = add_product("Cake", stock=5)
    placed = use.place_order(actor=customer, items=[OrderItem(cake.id or 0, 1), *one(tea, 2)])

    assert kinds(bus.events) == ["OrderPlaced"]
    assert the(OrderPlaced, bus.events[0]).order.id == placed.order["id"]
    assert catalog.invalidated == [(sorted([tea.id or 0, cake.id or 0]), customer.user_id)]
    assert metrics.counts == {"order_placed": 1}
    assert outbox_types(store) == ["order.placed"]


def test_cancel_and_fulfil_tell_once_they_happen(
    use: UseCases,
    customer: Actor,
    manager: Actor,
    tea: Product,
    bus: RecordingBus,
    catalog: RecordingCache,
    metrics: MemoryMetrics,
    store: MemoryStore,
) -> None:
    first = use.place_order(actor=customer, items=one(tea)).order["id"]
    second = use.place_order(actor=customer, items=one(tea)).order["id"]
    bus.events.clear()
    catalog.invalidated.clear()

    use.cancel_order(actor=manager, order_id=first)  # a manager's cancel forgets the owner's listings
    use.fulfil_order(actor=manager, order_id=second)
    with pytest.raises(InvalidTransition):
        use.cancel_order(actor=customer, order_id=first)

    assert kinds(bus.events) == ["OrderCancelled", "OrderFulfilled"]
    assert catalog.invalidated == [([tea.id or 0], customer.user_id), ([], customer.user_id)]
    assert metrics.counts == {"order_placed": 2, "order_cancelled": 1, "order_fulfilled": 1}
    assert outbox_types(store) == ["order.placed", "order.placed", "order.cancelled", "order.fulfilled"]


def test_a_stock_out_is_told_and_nothing_is_kept(
    use: UseCases,
    customer: Actor,
    tea: Product,
    bus: RecordingBus,
    catalog: RecordingCache,
    metrics: MemoryMetrics,
    store: MemoryStore,
) -> None:
    with pytest.raises(InsufficientStock):
        use.place_order(actor=customer, items=one(tea, 6))

    assert kinds(bus.events) == ["OrderRefused"]
    assert the(OrderRefused, bus.events[0]).shortages[0].available == 5
    assert metrics.counts == {"stock_rejected": 1}
    assert catalog.invalidated == []
    assert outbox_types(store) == []


def test_an_idempotent_replay_tells_nothing(
    use: UseCases, customer: Actor, tea: Product, bus: RecordingBus, metrics: MemoryMetrics, store: MemoryStore
) -> None:
    for _ in range(2):
        use.place_order(actor=customer, items=one(tea), idempotency=Idempotency("k", "f"))

    assert kinds(bus.events) == ["OrderPlaced"]
    assert metrics.counts == {"order_placed": 1}
    assert outbox_types(store) == ["order.placed"]


# Products


def test_catalog_changes_tell_what_changed(
    use: UseCases, manager: Actor, tea: Product, bus: RecordingBus, catalog: RecordingCache, store: MemoryStore
) -> None:
    created = use.create_product(actor=manager, name="Cake", price="3", stock=1)
    use.update_product(actor=manager, product_id=tea.id, changes=ProductChanges(stock=9, price="10.00"))
    use.update_product(actor=manager, product_id=tea.id, changes=ProductChanges(stock=9))  # no change at all
    use.delete_product(actor=manager, product_id=tea.id)

    assert kinds(bus.events) == ["ProductCreated", "ProductChanged", "ProductDeleted"]
    assert the(ProductChanged, bus.events[1]).fields == {"stock"}
    assert catalog.invalidated == [([created.id], None), ([tea.id], None), ([tea.id], None)]
    assert outbox_types(store) == ["product.created", "product.changed", "product.deleted"]


def test_a_refused_catalog_change_tells_nothing(
    use: UseCases, customer: Actor, manager: Actor, tea: Product, bus: RecordingBus, store: MemoryStore
) -> None:
    with pytest.raises(Exception, match="managers"):
        use.update_product(actor=customer, product_id=tea.id, changes=ProductChanges(stock=1))
    with pytest.raises(Exception, match="name"):
        use.update_product(actor=manager, product_id=tea.id, changes=ProductChanges(name=" "))
    assert bus.events == []
    assert outbox_types(store) == []


# Users and tokens


@pytest.fixture
def session(use: UseCases, add_user: Callable[..., User]) -> Session:
    add_user("alice")
    signed_in: Session = use.login(username="alice", password=PASSWORD)
    return signed_in


def claims(session: Session) -> TokenClaims:
    user = session.user
    assert user.id is not None
    return TokenClaims(user.id, user.token_version, session.refresh.jti, session.refresh.family)


def test_a_sign_up_is_told_without_secrets(use: UseCases, bus: RecordingBus, store: MemoryStore) -> None:
    user = use.register_user(actor=None, username="dave", password="a-long-passphrase", email="d@example.com")

    assert kinds(bus.events) == ["UserRegistered"]
    [message] = outbox_messages(store)
    assert (message.type, message.aggregate_id, dict(message.data)) == (
        "user.registered",
        user.id,
        {"id": user.id, "username": "dave"},
    )


def test_every_account_change_that_revokes_tokens_forgets_the_user(
    use: UseCases, session: Session, access: RecordingCache, bus: RecordingBus
) -> None:
    user_id = session.user.id or 0
    actor = actor_of(session.user)
    use.update_user(actor=actor, user_id=user_id, changes=UserChanges(email="new@example.com"))
    assert access.forgotten == []  # nothing about its tokens changed

    use.update_user(actor=actor, user_id=user_id, changes=UserChanges(password="a-new-passw0rd"))
    use.make_manager(username="alice", password=None)
    use.delete_user(actor=actor, user_id=user_id)

    assert access.forgotten == [user_id, user_id, user_id]
    assert kinds(bus.events) == ["TokensRevoked"] * 3


def test_logout_forgets_the_user(use: UseCases, session: Session, access: RecordingCache) -> None:
    use.revoke(refresh=claims(session))
    assert access.forgotten == [session.user.id]


def test_a_reused_refresh_token_forgets_the_user(use: UseCases, session: Session, access: RecordingCache) -> None:
    use.refresh(claims=claims(session))
    assert access.forgotten == []

    with pytest.raises(AuthenticationFailed):
        use.refresh(claims=claims(session))
    assert access.forgotten == [session.user.id]


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong password!"), ("nobody", PASSWORD)])
def test_a_failed_login_is_counted(
    use: UseCases, session: Session, metrics: MemoryMetrics, username: str, password: str
) -> None:
    assert metrics.counts == {}
    with pytest.raises(AuthenticationFailed):
        use.login(username=username, password=password)
    assert metrics.counts == {"login_failed": 1}


# When the handlers run


def test_handlers_run_once_the_change_is_committed(
    store: MemoryStore, clock: FakeClock, hasher: FakeHasher, ids: CounterIds, customer: Actor, tea: Product
) -> None:
    seen: list[bool] = []
    units: list[MemoryUnitOfWork] = []

    bus = RecordingBus({OrderPlaced: [lambda _event: seen.append(units[-1].committed)]})

    def new_uow() -> MemoryUnitOfWork:
        units.append(MemoryUnitOfWork(store, bus))
        return units[-1]

    use = assembled(new_uow, clock=clock, bus=bus, hasher=hasher, ids=ids)
    use.place_order(actor=customer, items=one(tea))

    assert seen == [True]


def test_a_failing_handler_neither_undoes_the_change_nor_stops_the_others(
    store: MemoryStore, clock: FakeClock, customer: Actor, tea: Product, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_event: Event) -> None:
        raise RuntimeError("cache down")

    later: list[Event] = []
    bus = RecordingBus({OrderPlaced: [broken, later.append]})
    use = assembled(lambda: MemoryUnitOfWork(store, bus), clock=clock, bus=bus)

    placed = use.place_order(actor=customer, items=one(tea))

    assert store.state.orders[placed.order["id"]] is not None
    assert len(later) == 1
    assert "handler" in caplog.text and "failed on OrderPlaced" in caplog.text


def test_nothing_of_a_rolled_back_unit_of_work_is_told(store: MemoryStore, tea: Product) -> None:
    bus = RecordingBus()
    with MemoryUnitOfWork(store, bus) as uow:
        product = uow.products.get_for_update([tea.id or 0])[tea.id or 0]
        product.delete(START)
        uow.products.save(product)
    assert bus.events == []
    assert outbox_messages(store) == []


@pytest.mark.parametrize("module", [auth, orders, products, users])
def test_no_use_case_takes_a_cache_or_the_metrics(module: ModuleType) -> None:
    """What follows a change hangs off its events, so no caller can forget to pass it."""
    for name, function in inspect.getmembers(module, inspect.isfunction):
        if function.__module__ == module.__name__ and not name.startswith("_"):
            assert not {"cache", "access_cache", "metrics"} & set(inspect.signature(function).parameters), name
