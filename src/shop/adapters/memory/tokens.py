from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shop.adapters.memory.store import MemoryState, UsedRefresh
from shop.application.ports.tokens import AccessState, RefreshToken


class MemoryTokenRepository:
    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def add_refresh(self, token: RefreshToken) -> None:
        self._state().refresh_tokens[token.jti] = UsedRefresh(token)

    def use_refresh(self, jti: str, now: datetime) -> RefreshToken | None:
        if not self.is_refresh_usable(jti, now):
            return None
        entry = self._state().refresh_tokens[jti]
        entry.used_at = now
        return entry.token

    def is_refresh_usable(self, jti: str, now: datetime) -> bool:
        entry = self._state().refresh_tokens.get(jti)
        return entry is not None and entry.used_at is None and entry.revoked_at is None and entry.token.expires_at > now

    def revoke_family(self, family: str, now: datetime) -> None:
        state = self._state()
        state.revoked_families.add(family)
        for entry in state.refresh_tokens.values():
            if entry.token.family == family and entry.revoked_at is None:
                entry.revoked_at = now

    def revoke_access(self, jti: str, expires_at: datetime) -> None:
        self._state().revoked_access[jti] = expires_at

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        user = self._state().users.get(user_id)
        if user is None:
            return None
        state = self._state()
        revoked = jti in state.revoked_access or family in state.revoked_families
        return AccessState(user.role, user.active, user.token_version, revoked)

    def purge_expired(self, now: datetime) -> int:
        state = self._state()
        expired = [jti for jti, e in state.refresh_tokens.items() if e.token.expires_at <= now]
        gone = [jti for jti, at in state.revoked_access.items() if at <= now]
        for jti in expired:
            del state.refresh_tokens[jti]
        for jti in gone:
            del state.revoked_access[jti]
        return len(expired) + len(gone)
