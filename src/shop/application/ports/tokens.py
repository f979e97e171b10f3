from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shop.domain.users import Role


@dataclass(frozen=True, slots=True)
class RefreshToken:
    jti: str
    family: str
    user_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessState:
    """What decides whether an access token still works: its user's standing and revocations."""

    role: Role
    active: bool
    token_version: int
    revoked: bool


class TokenRepository(Protocol):
    def add_refresh(self, token: RefreshToken) -> None: ...

    def use_refresh(self, jti: str, now: datetime) -> RefreshToken | None:
        """Mark a refresh token used, once: None when unknown, already used, revoked or expired."""

    def is_refresh_usable(self, jti: str, now: datetime) -> bool:
        """True while a refresh token is unused, unrevoked and unexpired."""

    def revoke_family(self, family: str, now: datetime) -> None: ...

    def revoke_access(self, jti: str, expires_at: datetime) -> None: ...

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        """The user's role, standing and token version, and whether the token was revoked, in one read;
        None when the user does not exist."""

    def purge_expired(self, now: datetime) -> int: ...
