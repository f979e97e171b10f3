"""The views (application/views.py): a cached read answers from one read of the cache, with the token's
standing; a miss reads the database once, on one connection, and is answered from the cache after.
Invalidation is the event handlers' job, through the same bus."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from shop.adapters.memory import MemoryMetrics, MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor, TokenClaims
from shop.application.commands import ViewOrder, ViewOrders, ViewProduct, ViewProducts
from shop.application.errors import AuthenticationFailed, NotFound
from shop.application.ports.caches import Cached, Entry, TokenKey
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Page
from shop.application.ports.products import ProductQuery
from shop.application.ports.reads import Consistency
from shop.bootstrap import event_handlers
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from tests.fakes import FakeClock, ReadsThrough, RecordingBus, RememberingCache

from ..support import UseCases, assembled


class CountingCache(RememberingCache):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, token: TokenKey | None, entry: Entry | None) -> Cached:
        self.reads += 1
        return super().read(token, entry)


@pytest.fixture
def cache() -> CountingCache:
    return CountingCache()


@pytest.fixture
def reads(store: MemoryStore) -> ReadsThrough:
    return ReadsThrough(lambda: MemoryUnitOfWork(store))


@pytest.fixture
def use(store: MemoryStore, clock: FakeClock, cache: CountingCache, reads: ReadsThrough) -> UseCases:
    """The bus as the container builds it with Redis: views reading through the cache, handlers invalidating."""
    bus = RecordingBus(event_handlers(metrics=MemoryMetrics(), cache=cache))
    return assembled(lambda: MemoryUnitOfWork(store, bus), clock=clock, bus=bus, cache=cache, reads=reads)


def token_of(actor: Actor) -> TokenClaims:
    return TokenClaims(user_id=actor.user_id, token_version=0, jti="j", family="f")


@pytest.fixture
def tea(add_product: Callable[..., Product]) -> Product:
    return add_product("Tea", stock=3)


def view_product(use: UseCases, actor: Actor, product: Product) -> dict[str, object]:
    viewed = use.bus.handle(ViewProduct(token_of(actor), product.id or 0))
    assert viewed.actor == actor
    found: dict[str, object] = orjson.loads(viewed.body)
    return found


def _view_product(token: TokenClaims, product_id: int) -> object:
    return ViewProduct(token, product_id)


def test_a_cached_product_is_one_read_of_the_cache_and_no_database(
    use: UseCases, cache: CountingCache, reads: ReadsThrough, customer: Actor, tea: Product
) -> None:
    assert view_product(use, customer, tea)["stock"] == 3
    assert reads.consistencies == [Consistency.FRESH]  # the standing and the product, on one connection
    cache.reads = 0

    assert view_product(use, customer, tea)["stock"] == 3

    assert cache.reads == 1
    assert reads.consistencies == [Consistency.FRESH]


@pytest.mark.parametrize("view", ["product", "products", "own orders"])
def test_with_replicas_the_page_is_read_apart_from_the_fresh_standing(
    use: UseCases, reads: ReadsThrough, customer: Actor, tea: Product, view: str
) -> None:
    """The standing must be read on the primary; the page may lag: with a read router, the page gets a
    MAY_LAG connection of its own (a replica's, when one qualifies) rather than riding on the standing's."""
    reads.routes_lagging = True
    token = token_of(customer)
    query = {
        "product": ViewProduct(token, tea.id or 0),
        "products": ViewProducts(token, ProductQuery()),
        "own orders": ViewOrders(token, OrderQuery()),
    }[view]

    assert use.bus.handle(query).actor == customer

    assert reads.consistencies == [Consistency.FRESH, Consistency.MAY_LAG]


def test_with_replicas_a_refused_token_reads_no_page(
    use: UseCases, reads: ReadsThrough, customer: Actor, tea: Product
) -> None:
    reads.routes_lagging = True
    stale = TokenClaims(user_id=customer.user_id, token_version=7, jti="j", family="f")
    with pytest.raises(AuthenticationFailed):
        use.bus.handle(ViewProduct(stale, tea.id or 0))
    assert reads.consistencies == [Consistency.FRESH]


def test_an_order_invalidates_the_product_and_the_catalog(
    use: UseCases, cache: CountingCache, customer: Actor, tea: Product
) -> None:
    view_product(use, customer, tea)
    use.bus.handle(ViewProducts(token_of(customer), ProductQuery()))
    assert cache.missed == ["product", "products"]

    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)])

    assert view_product(use, customer, tea)["stock"] == 2
    page = use.bus.handle(ViewProducts(token_of(customer), ProductQuery()))
    assert (page.total, orjson.loads(page.body)[0]["stock"]) == (1, 2)
    assert cache.missed == ["product", "products", "product", "products"]


def test_a_missing_product_is_not_found_from_the_cache_too(
    use: UseCases, cache: CountingCache, customer: Actor
) -> None:
    for _ in range(2):
        with pytest.raises(NotFound):
            use.bus.handle(ViewProduct(token_of(customer), 999))
    assert cache.missed == ["product"]


def test_a_revoked_token_is_refused_at_once_though_its_standing_was_cached(
    use: UseCases, customer: Actor, tea: Product
) -> None:
    view_product(use, customer, tea)
    use.delete_user(actor=customer, user_id=customer.user_id)

    with pytest.raises(AuthenticationFailed):
        view_product(use, customer, tea)


def test_own_orders_are_read_once_and_again_after_an_order(
    use: UseCases, cache: CountingCache, customer: Actor, tea: Product
) -> None:
    query = OrderQuery(page=Page(1, 20))
    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)])
    assert use.bus.handle(ViewOrders(token_of(customer), query)).total == 1
    assert use.bus.handle(ViewOrders(token_of(customer), query)).total == 1
    assert cache.missed == ["orders"]

    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)])
    page = use.bus.handle(ViewOrders(token_of(customer), query))

    assert (len(orjson.loads(page.body)), page.total, cache.missed) == (2, 2, ["orders", "orders"])


def test_a_manager_sees_every_order_and_a_customer_only_theirs(
    use: UseCases, customer: Actor, other_customer: Actor, manager: Actor, tea: Product
) -> None:
    use.place_order(actor=customer, items=[OrderItem(tea.id or 0, 1)])
    use.place_order(actor=other_customer, items=[OrderItem(tea.id or 0, 1)])
    query = OrderQuery(page=Page(1, 20))

    assert use.bus.handle(ViewOrders(token_of(manager), query)).total == 2
    assert use.bus.handle(ViewOrders(token_of(manager), query, "ALICE")).total == 1
    assert use.bus.handle(ViewOrders(token_of(manager), query, "nobody")).total == 0
    theirs = orjson.loads(use.bus.handle(ViewOrders(token_of(other_customer), query)).body)
    with pytest.raises(NotFound):
        use.bus.handle(ViewOrder(token_of(customer), theirs[0]["id"]))
