"""Attempts counted in Redis: one sorted set per key, each taken in one atomic round trip."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

import redis

from shop.adapters.memory.attempts import MemoryAttempts
from shop.application.outages import OutageLog
from shop.application.ports.attempts import Limit, Refused, Taken

log = logging.getLogger("shop.adapters.attempts")

PREFIX = "shop:attempts:"
# KEYS[1]: the key's attempts (member: an attempt's id, score: the end of its window, in ms).
# ARGV: now, the end of a new attempt's window, the limit, the new attempt's id. The key lives as long
# as its last window, by Redis' own clock (PEXPIRE, not PEXPIREAT: the clocks may differ a little).
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local live = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[3])
if live >= limit then
  local frees = redis.call('ZRANGE', KEYS[1], live - limit, live - limit, 'WITHSCORES')
  return {0, frees[2]}
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - tonumber(ARGV[1])))
return {1, ARGV[2]}
"""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class RedisAttempts:
    """Redis unreachable: counted in this process meanwhile (logged once), so logins keep working and
    stay limited, if per worker, until Redis is back."""

    def __init__(self, client: redis.Redis, prefix: str = PREFIX) -> None:
        self._redis = client
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._fallback = MemoryAttempts()
        self._unreachable = OutageLog(log, "attempt counters unreachable; counting in this process meanwhile")

    def take(self, key: str, limit: Limit, now: datetime) -> Taken | Refused:
        attempt_id = secrets.token_hex(8)
        ends = now + limit.window
        try:
            taken, score = self._take(keys=[self._stored(key)], args=[_ms(now), _ms(ends), limit.count, attempt_id])
        except redis.RedisError as error:
            self._unreachable.failed(error)
            return self._fallback.take(key, limit, now)
        if self._unreachable.failing:
            self._unreachable.recovered()
        if taken:
            return Taken(key, attempt_id)
        frees = datetime.fromtimestamp(float(score) / 1000, UTC)
        return Refused(max(frees - now, timedelta(0)))

    def refund(self, attempt: Taken) -> None:
        self._fallback.refund(attempt)
        try:
            self._redis.zrem(self._stored(attempt.key), attempt.id)
        except redis.RedisError as error:
            self._unreachable.failed(error)

    def purge(self, now: datetime) -> int:
        """Redis forgets a key by itself once its last window has passed."""
        return self._fallback.purge(now)

    def _stored(self, key: str) -> str:
        return self._prefix + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
