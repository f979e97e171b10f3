"""Readers' WAL floors in Redis, shared by every worker and instance: a user's next read, wherever
it lands, knows how far their last write and read went. Redis down: floors are unknown and reads
go to the primary (fresh, just not offloaded); a floor not raised is logged."""

from __future__ import annotations

import logging

import redis

from shop.application.outages import OutageLog

log = logging.getLogger("shop.adapters.replicas")

PREFIX = "shop:wal-floor:"
# Raise each key to ARGV[1] unless it is higher already; keep it ARGV[2] seconds.
_ADVANCE = """
for _, key in ipairs(KEYS) do
  local now = tonumber(redis.call('GET', key) or '0')
  if now < tonumber(ARGV[1]) then redis.call('SET', key, ARGV[1], 'EX', ARGV[2])
  else redis.call('EXPIRE', key, ARGV[2]) end
end
return 1
"""


class RedisPositions:
    """ttl_seconds: how long a floor is kept; a replica further behind than that is skipped anyway
    (REPLICA_MAX_LAG_MS is far shorter), so a floor forgotten never lets a stale read through."""

    def __init__(self, client: redis.Redis, ttl_seconds: int, prefix: str = PREFIX) -> None:
        self._redis = client
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._advance = client.register_script(_ADVANCE)
        self._unreachable = OutageLog(log, "read-your-writes floors unreachable; reading from the primary")

    def floor(self, readers: tuple[str, ...]) -> int | None:
        if not readers:
            return 0
        try:
            values = self._redis.mget([self._prefix + reader for reader in readers])
        except redis.RedisError as error:
            self._unreachable.failed(error)
            return None
        self._unreachable.recovered()
        return max(int(value) if value is not None else 0 for value in values)

    def advance(self, position: int, readers: tuple[str, ...]) -> None:
        if not readers:
            return
        try:
            self._advance(keys=[self._prefix + reader for reader in readers], args=[position, self._ttl])
        except redis.RedisError as error:
            self._unreachable.failed(error)
