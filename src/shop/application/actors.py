from __future__ import annotations

from dataclasses import dataclass

from shop.domain.users import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: the authenticated user as the access check found it."""

    user_id: int
    role: Role

    @property
    def is_manager(self) -> bool:
        return self.role is Role.MANAGER


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The parts of a presented token that the access check needs."""

    user_id: int
    token_version: int
    jti: str
    family: str
