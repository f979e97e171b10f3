from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shop.application.ports.paging import Listing, Page
from shop.domain.users import Role, User


@dataclass(frozen=True, slots=True)
class UserQuery:
    """Active accounts (closed ones with active False), oldest first; q: a piece of the username,
    whatever its case; role: only customers, or only managers."""

    page: Page = Page()
    q: str | None = None
    active: bool = True
    role: Role | None = None


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Store a new user and set its id; AlreadyExists when the username is taken."""

    def get(self, user_id: int) -> User | None: ...

    def get_for_update(self, user_id: int) -> User | None:
        """As get, and no other transaction changes the user until this one ends."""

    def get_by_username(self, username: str) -> User | None:
        """The user whose name is this one whatever its case ("Alice" finds "alice")."""

    def list(self, query: UserQuery) -> Listing[User]: ...

    def usernames(self, user_ids: Sequence[int]) -> dict[int, str]:
        """The usernames of these accounts, closed ones too (their orders stay theirs), in one query."""

    def save(self, user: User) -> None:
        """Write back a changed user; AlreadyExists when the new username is taken."""
