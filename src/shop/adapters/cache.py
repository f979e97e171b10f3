"""The catalog cache in Redis, shared by every worker and instance.

Each product has a version counter and the catalog as a whole a generation counter. A cached
product lives under its version, a cached page under the generation; a write bumps both after it
commits. A reader that loaded old data just before a write can only store it under the old
version, which nobody reads again, so invalidation can't be undone by a late writer of the cache.
Reading is one round trip (a Lua script fetches the counter and the value together).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shop.application.ports import ProductQuery
from shop.domain.money import Money
from shop.domain.products import Product

log = logging.getLogger(__name__)

PREFIX = "shop:catalog:"
GENERATION = PREFIX + "generation"
_GET_VERSIONED = """
local version = redis.call('GET', KEYS[1]) or '0'
return {version, redis.call('GET', ARGV[1] .. version)}
"""


def redis_client(url: str) -> redis.Redis:
    """A client that fails fast: with Redis down, a read must fall back to the database at once,
    not after retries and backoff."""
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


class RedisCatalogCache:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds
        self._get_versioned = client.register_script(_GET_VERSIONED)

    def product(self, product_id: int, load: Callable[[], Product | None]) -> Product | None:
        counter, prefix = f"{PREFIX}product:{product_id}:version", f"{PREFIX}product:{product_id}@"
        cached = self._read(counter, prefix)
        if cached is not None and cached[1] is not None:
            return _product(orjson.loads(cached[1])) if cached[1] != b"null" else None
        product = load()
        if cached is not None:
            self._write(prefix + cached[0], orjson.dumps(_plain(product) if product else None))
        return product

    def page(self, query: ProductQuery, load: Callable[[], tuple[list[Product], int]]) -> tuple[list[Product], int]:
        prefix = f"{PREFIX}page:{_query_key(query)}@"
        cached = self._read(GENERATION, prefix)
        if cached is not None and cached[1] is not None:
            stored = orjson.loads(cached[1])
            return [_product(p) for p in stored["items"]], stored["total"]
        items, total = load()
        if cached is not None:
            self._write(prefix + cached[0], orjson.dumps({"items": [_plain(p) for p in items], "total": total}))
        return items, total

    def invalidate(self, product_ids: Collection[int]) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for product_id in product_ids:
                    pipe.incr(f"{PREFIX}product:{product_id}:version")
                pipe.incr(GENERATION)
                pipe.execute()
        except redis.RedisError:
            # The write is committed and can't be undone; entries expire within the TTL.
            log.exception("catalog cache invalidation failed; cached products may be stale for %ss", self._ttl)

    def _read(self, counter: str, prefix: str) -> tuple[str, bytes | None] | None:
        """(version, cached value or None); None when Redis is unreachable (then: no caching)."""
        try:
            version, value = self._get_versioned(keys=[counter], args=[prefix])
        except redis.RedisError:
            log.warning("catalog cache unreachable; reading from the database", exc_info=True)
            return None
        return version.decode() if isinstance(version, bytes) else str(version), value

    def _write(self, key: str, value: bytes) -> None:
        try:
            self._redis.set(key, value, ex=self._ttl)
        except redis.RedisError:
            log.warning("catalog cache unreachable; not caching", exc_info=True)


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
