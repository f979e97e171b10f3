"""Values stored under a version counter; see the package's docstring."""

from __future__ import annotations

import logging

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shop.application.outages import OutageLog

log = logging.getLogger("shop.adapters.cache")

PREFIX = "shop:cache:"


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
        self._unreachable = OutageLog(log, "cache unreachable; reading from the database")
        self._stale = OutageLog(log, f"cache invalidation failed; entries may be stale for up to {ttl_seconds}s")

    def _bump(self, *counters: str) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for counter in counters:
                    pipe.incr(counter)
                pipe.execute()
        except redis.RedisError as error:
            # The write is committed and can't be undone; entries expire within the TTL.
            self._stale.failed(error)
