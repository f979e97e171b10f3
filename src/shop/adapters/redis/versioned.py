"""Values stored under a version counter; see the package's docstring."""

from __future__ import annotations

import logging

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shop.application.outages import OutageLog

log = logging.getLogger("shop.adapters.cache")

PREFIX = "shop:cache:"
_GET_VERSIONED = """
local version = redis.call('GET', KEYS[1]) or '0'
return {version, redis.call('GET', ARGV[1] .. version)}
"""


def redis_client(url: str) -> redis.Redis:
    """A client that fails fast: with Redis down, a read must fall back to the database at once,
    not after retries and backoff."""
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


class Versioned:
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
        if self._unreachable.failing:  # read without a lock: the common case costs nothing
            self._unreachable.recovered()
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
