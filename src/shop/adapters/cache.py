"""Caches in Redis, shared by every worker and instance: the catalog, the standing of tokens, and
the totals of order listings. `CachedReads` puts them in front of the read-only unit of work; the
handlers of the events that change them (shop.application.handlers) invalidate them.

Every cached value lives under a version counter: each product has one, the catalog as a whole
a generation, each user one for their tokens. A write bumps the counter after it commits. A
reader that loaded old data just before a write can only store it under the old version, which
nobody reads again, so an invalidation can't be undone by a late writer of the cache. Reading
is one round trip (a Lua script fetches the counter and the value together). Redis down: every
read loads from the database at once; a failed bump is logged, and the TTL bounds the damage.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shop.application.outages import OutageLog
from shop.application.ports import (
    AccessCache,
    AccessState,
    CatalogCache,
    IdempotencyRepository,
    OrderQuery,
    OutboxRepository,
    ProductQuery,
    RefreshToken,
    UnitOfWork,
    UserRepository,
)
from shop.domain.events import Event
from shop.domain.money import Money
from shop.domain.orders import Order
from shop.domain.products import Product
from shop.domain.users import Role

log = logging.getLogger(__name__)

PREFIX = "shop:cache:"
_GET_VERSIONED = """
local version = redis.call('GET', KEYS[1]) or '0'
return {version, redis.call('GET', ARGV[1] .. version)}
"""


def redis_client(url: str) -> redis.Redis:
    """A client that fails fast: with Redis down, a read must fall back to the database at once,
    not after retries and backoff."""
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


class _Versioned:
    """Values stored under a version counter; see the module's docstring."""

    def __init__(self, client: redis.Redis, ttl_seconds: int, prefix: str | None = None) -> None:
        self._redis = client
        self._ttl = ttl_seconds
        self._prefix = prefix or PREFIX
        self._get_versioned = client.register_script(_GET_VERSIONED)
        self._unreachable = OutageLog(log, "cache unreachable; reading from the database")
        self._stale = OutageLog(log, f"cache invalidation failed; entries may be stale for up to {ttl_seconds}s")

    def _read(self, counter: str, prefix: str) -> tuple[str, bytes | None] | None:
        """(version, cached value or None); None when Redis is unreachable (then: no caching)."""
        try:
            version, value = self._get_versioned(keys=[counter], args=[prefix])
        except redis.RedisError as error:
            self._unreachable.failed(error)
            return None
        return version.decode() if isinstance(version, bytes) else str(version), value

    def _write(self, key: str, value: bytes) -> None:
        try:
            self._redis.set(key, value, ex=self._ttl)
        except redis.RedisError as error:
            self._unreachable.failed(error)

    def _bump(self, *counters: str) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for counter in counters:
                    pipe.incr(counter)
                pipe.execute()
        except redis.RedisError as error:
            # The write is committed and can't be undone; entries expire within the TTL.
            self._stale.failed(error)


class RedisCatalogCache(_Versioned):
    def product(self, product_id: int, load: Callable[[], Product | None]) -> Product | None:
        counter, prefix = self._product_counter(product_id), f"{self._prefix}product:{product_id}@"
        cached = self._read(counter, prefix)
        if cached is not None and cached[1] is not None:
            return _product(orjson.loads(cached[1])) if cached[1] != b"null" else None
        product = load()
        if cached is not None:
            self._write(prefix + cached[0], orjson.dumps(_plain(product) if product else None))
        return product

    def page(self, query: ProductQuery, load: Callable[[], tuple[list[Product], int]]) -> tuple[list[Product], int]:
        prefix = f"{self._prefix}page:{_query_key(query)}@"
        cached = self._read(self._generation, prefix)
        if cached is not None and cached[1] is not None:
            stored = orjson.loads(cached[1])
            return [_product(p) for p in stored["items"]], stored["total"]
        items, total = load()
        if cached is not None:
            self._write(prefix + cached[0], orjson.dumps({"items": [_plain(p) for p in items], "total": total}))
        return items, total

    def order_total(self, query: OrderQuery, load: Callable[[], int]) -> int:
        """Under a counter per customer, and one for the managers' view of everyone."""
        scope = "all" if query.user_id is None else str(query.user_id)
        status = query.status.value if query.status is not None else "any"
        prefix = f"{self._prefix}orders:{scope}:{status}@"
        cached = self._read(self._orders_counter(scope), prefix)
        if cached is not None and cached[1] is not None:
            return int(cached[1])
        total = load()
        if cached is not None:
            self._write(prefix + cached[0], str(total).encode())
        return total

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        """One round trip, whatever changed."""
        counters = [self._product_counter(product_id) for product_id in product_ids]
        if counters:
            counters.append(self._generation)
        if orders_of is not None:
            counters += [self._orders_counter(str(orders_of)), self._orders_counter("all")]
        self._bump(*counters)

    @property
    def _generation(self) -> str:
        return f"{self._prefix}catalog:generation"

    def _product_counter(self, product_id: int) -> str:
        return f"{self._prefix}product:{product_id}:version"

    def _orders_counter(self, scope: str) -> str:
        return f"{self._prefix}orders:{scope}:version"


class RedisAccessCache(_Versioned):
    """Whether a user's token may be used, per token, under the user's token counter."""

    def state(self, user_id: int, jti: str, family: str, load: Callable[[], AccessState | None]) -> AccessState | None:
        counter, prefix = self._user_counter(user_id), f"{self._prefix}access:{user_id}:{jti}:{family}@"
        cached = self._read(counter, prefix)
        if cached is not None and cached[1] is not None:
            stored = orjson.loads(cached[1])
            return AccessState(Role(stored[0]), stored[1], stored[2], stored[3]) if stored else None
        state = load()
        if cached is not None:
            plain = [state.role.value, state.active, state.token_version, state.revoked] if state else None
            self._write(prefix + cached[0], orjson.dumps(plain))
        return state

    def forget_user(self, user_id: int) -> None:
        self._bump(self._user_counter(user_id))

    def _user_counter(self, user_id: int) -> str:
        return f"{self._prefix}access:{user_id}:version"


def _query_key(query: ProductQuery) -> str:
    fields = (
        query.page.number,
        query.page.size,
        query.price,
        query.stock,
        query.min_price,
        query.max_price,
        query.in_stock,
        query.q,
        query.sort,
    )
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:32]


def _plain(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "amount": str(product.price.amount),
        "currency": product.price.currency,
        "stock": product.stock,
        "deleted": product.deleted,
    }


def _product(data: dict[str, Any]) -> Product:
    price = Money.trusted(Decimal(data["amount"]), data["currency"])
    return Product(id=data["id"], name=data["name"], price=price, stock=data["stock"], deleted=data["deleted"])


class RedisProbe:
    """Readiness of the shared cache: with REDIS_URL set, an instance without Redis would serve
    from the database alone, at a fraction of its capacity; the load balancer should know."""

    name = "redis"

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def problem(self) -> str | None:
        try:
            self._redis.ping()
        except redis.RedisError as error:
            log.warning("readiness: redis unreachable: %s", type(error).__name__)
            return "unreachable"
        return None


class _CachedProducts:
    def __init__(self, inner: UnitOfWork, cache: CatalogCache) -> None:
        self._inner, self._cache = inner, cache

    def get(self, product_id: int) -> Product | None:
        return self._cache.product(product_id, lambda: self._inner.products.get(product_id))

    def list(self, query: ProductQuery) -> tuple[list[Product], int]:
        return self._cache.page(query, lambda: self._inner.products.list(query))

    def get_many(self, product_ids: Sequence[int]) -> dict[int, Product]:
        return self._inner.products.get_many(product_ids)

    def get_for_update(self, product_ids: Sequence[int], *, include_deleted: bool = False) -> dict[int, Product]:
        return self._inner.products.get_for_update(product_ids, include_deleted=include_deleted)

    def add(self, product: Product) -> None:
        self._inner.products.add(product)

    def save(self, product: Product) -> None:
        self._inner.products.save(product)


class _CachedOrders:
    def __init__(self, inner: UnitOfWork, cache: CatalogCache) -> None:
        self._inner, self._cache = inner, cache

    def count(self, query: OrderQuery) -> int:
        return self._cache.order_total(query, lambda: self._inner.orders.count(query))

    def page(self, query: OrderQuery) -> list[Order]:
        return self._inner.orders.page(query)

    def get(self, order_id: int) -> Order | None:
        return self._inner.orders.get(order_id)

    def get_for_update(self, order_id: int) -> Order | None:
        return self._inner.orders.get_for_update(order_id)

    def add(self, order: Order) -> None:
        self._inner.orders.add(order)

    def save(self, order: Order) -> None:
        self._inner.orders.save(order)


class _CachedTokens:
    def __init__(self, inner: UnitOfWork, cache: AccessCache) -> None:
        self._inner, self._cache = inner, cache

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        return self._cache.state(user_id, jti, family, lambda: self._inner.tokens.access_state(user_id, jti, family))

    def add_refresh(self, token: RefreshToken) -> None:
        self._inner.tokens.add_refresh(token)

    def use_refresh(self, jti: str, now: datetime) -> RefreshToken | None:
        return self._inner.tokens.use_refresh(jti, now)

    def is_refresh_usable(self, jti: str, now: datetime) -> bool:
        return self._inner.tokens.is_refresh_usable(jti, now)

    def revoke_family(self, family: str, now: datetime) -> None:
        self._inner.tokens.revoke_family(family, now)

    def revoke_access(self, jti: str, expires_at: datetime) -> None:
        self._inner.tokens.revoke_access(jti, expires_at)

    def purge_expired(self, now: datetime) -> int:
        return self._inner.tokens.purge_expired(now)


class CachedReads:
    """A unit of work for reads, with the catalog, order totals and the standing of tokens read through
    the shared cache; everything else goes to the unit of work it wraps. Only for use cases that read:
    a write through it would not invalidate what it cached (the event handlers do that for writes)."""

    def __init__(self, inner: UnitOfWork, catalog: CatalogCache, access: AccessCache) -> None:
        self._inner = inner
        self.products = _CachedProducts(inner, catalog)
        self.orders = _CachedOrders(inner, catalog)
        self.tokens = _CachedTokens(inner, access)

    @property
    def users(self) -> UserRepository:
        return self._inner.users

    @property
    def idempotency(self) -> IdempotencyRepository:
        return self._inner.idempotency

    @property
    def outbox(self) -> OutboxRepository:
        return self._inner.outbox

    def record(self, event: Event) -> None:
        self._inner.record(event)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._inner.__exit__(*exc_info)

    def commit(self) -> None:
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()
