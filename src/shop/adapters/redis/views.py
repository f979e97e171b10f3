"""The views' cache in Redis: rendered bodies and the standing of tokens, each under its counter."""

from __future__ import annotations

from collections.abc import Collection

import orjson
import redis

from shop.adapters.redis.versioned import Versioned
from shop.application.ports.caches import MISSED, Cached, Entry, TokenKey
from shop.application.ports.tokens import AccessState
from shop.domain.users import Role

# KEYS: counters; ARGV: the prefix of each counter's value. Answers each counter's version and the
# value stored under prefix .. version: a token's standing and a body in one round trip.
_GET_VERSIONED_MANY = """
local found = {}
for i = 1, #KEYS do
  local version = redis.call('GET', KEYS[i]) or '0'
  found[2 * i - 1] = version
  found[2 * i] = redis.call('GET', ARGV[i] .. version)
end
return found
"""


class RedisViewCache(Versioned):
    def __init__(self, client: redis.Redis, ttl_seconds: int, prefix: str | None = None) -> None:
        super().__init__(client, ttl_seconds, prefix)
        self._get_many = client.register_script(_GET_VERSIONED_MANY)

    def read(self, token: TokenKey | None, entry: Entry | None) -> Cached:
        keys: list[str] = []
        prefixes: list[str] = []
        if token is not None:
            user_id, jti, family = token
            keys.append(self._user_counter(user_id))
            prefixes.append(f"{self._prefix}access:{user_id}:{jti}:{family}@")
        if entry is not None:
            keys.append(self._counter(entry))
            prefixes.append(f"{self._prefix}{entry.kind}:{entry.scope}:{entry.key}@")
        if not keys:
            return MISSED
        try:
            found = self._get_many(keys=keys, args=prefixes)
        except redis.RedisError as error:
            self._unreachable.failed(error)
            return MISSED
        if self._unreachable.failing:
            self._unreachable.recovered()
        slots = [prefix + _text(version) for prefix, version in zip(prefixes, found[::2], strict=True)]
        values: list[bytes | None] = found[1::2]
        standing_slot = body_slot = None
        standing_found, standing, body = False, None, None
        if token is not None:
            standing_slot, stored = slots.pop(0), values.pop(0)
            if stored is not None:
                standing_found, standing = True, _standing(stored)
        if entry is not None:
            body_slot, body = slots[0], values[0]
        return Cached(standing_found, standing, body, standing_slot, body_slot)

    def keep(self, cached: Cached, *, standing: AccessState | None = None, body: bytes | None = None) -> None:
        writes: list[tuple[str, bytes]] = []
        if cached.standing_slot is not None and not cached.standing_found:
            plain = (
                [standing.role.value, standing.active, standing.token_version, standing.revoked] if standing else None
            )
            writes.append((cached.standing_slot, orjson.dumps(plain)))
        if body is not None and cached.body_slot is not None:
            writes.append((cached.body_slot, body))
        if not writes:
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key, value in writes:
                    pipe.set(key, value, ex=self._ttl)
                pipe.execute()
        except redis.RedisError as error:
            self._unreachable.failed(error)

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        """One round trip, whatever changed."""
        counters = [self._counter(Entry("product", str(product_id))) for product_id in product_ids]
        if counters:
            counters.append(self._counter(Entry("products", "catalog")))
        if orders_of is not None:
            counters += [self._counter(Entry("orders", str(orders_of))), self._counter(Entry("orders", "all"))]
        self._bump(*counters)

    def forget_user(self, user_id: int) -> None:
        self._bump(self._user_counter(user_id))

    def _counter(self, entry: Entry) -> str:
        return f"{self._prefix}{entry.kind}:{entry.scope}:version"

    def _user_counter(self, user_id: int) -> str:
        return f"{self._prefix}access:{user_id}:version"


def _standing(stored: bytes) -> AccessState | None:
    plain = orjson.loads(stored)
    return AccessState(Role(plain[0]), plain[1], plain[2], plain[3]) if plain else None


def _text(version: bytes | str | int) -> str:
    return version.decode() if isinstance(version, bytes) else str(version)
