"""The standing of access tokens, cached in Redis."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from shop.adapters.redis.versioned import Versioned
from shop.application.ports.tokens import AccessState
from shop.domain.users import Role


class RedisAccessCache(Versioned):
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
