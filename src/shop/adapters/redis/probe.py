"""Readiness of the shared cache."""

from __future__ import annotations

import logging

import redis

log = logging.getLogger("shop.adapters.cache")


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
