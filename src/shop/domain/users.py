from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shop.domain.errors import InvalidValue
from shop.domain.events import Event, TokensRevoked, UserRegistered

USERNAME_MAX = 150
PASSWORD_MIN = 8
PASSWORD_MAX = 128
_USERNAME = re.compile(r"[\w.@+-]+", re.ASCII)  # used with fullmatch: "$" would accept a trailing newline


class Role(StrEnum):
    CUSTOMER = "customer"
    MANAGER = "manager"


def check_username(username: str) -> str:
    if not 1 <= len(username) <= USERNAME_MAX or not _USERNAME.fullmatch(username):
        raise InvalidValue.single("username", f"1 to {USERNAME_MAX} characters: letters, digits and @ . + - _ only.")
    return username


def check_password(password: str, username: str) -> str:
    """The password policy: long enough, not the username, not only digits."""
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append(f"Too short: at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        problems.append(f"Too long: at most {PASSWORD_MAX} characters.")
    if password.casefold() == username.casefold():
        problems.append("Must not be the same as the username.")
    if password.isdigit():
        problems.append("Must not be entirely numeric.")
    if problems:
        raise InvalidValue({"password": problems})
    return password


@dataclass(eq=False)
class User:
    username: str
    password_hash: str
    role: Role = Role.CUSTOMER
    email: str | None = None
    age: int | None = None
    phone: str | None = None
    active: bool = True
    # Bumped whenever every token of the user must stop working at once.
    token_version: int = 0
    id: int | None = field(default=None)
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def register(
        cls,
        *,
        username: str,
        password_hash: str,
        now: datetime,
        role: Role = Role.CUSTOMER,
        email: str | None = None,
        age: int | None = None,
        phone: str | None = None,
    ) -> User:
        """A new account."""
        user = cls(
            username=check_username(username),
            password_hash=password_hash,
            role=role,
            email=email,
            age=age,
            phone=phone,
        )
        user.events.append(UserRegistered(user=user, occurred_at=now))
        return user

    @property
    def is_manager(self) -> bool:
        return self.role is Role.MANAGER

    def change_password(self, password_hash: str, now: datetime) -> None:
        self.password_hash = password_hash
        self.revoke_all_tokens(now)

    def rehash_password(self, password_hash: str) -> None:
        """Same password, stronger hash: tokens stay valid."""
        self.password_hash = password_hash

    def promote(self, now: datetime) -> None:
        if self.role is not Role.MANAGER:
            self.role = Role.MANAGER
            self.revoke_all_tokens(now)

    def deactivate(self, now: datetime) -> None:
        self.active = False
        self.revoke_all_tokens(now)

    def revoke_all_tokens(self, now: datetime) -> None:
        self.token_version += 1
        assert self.id is not None, "only a stored user has tokens"
        self.events.append(TokensRevoked(user_id=self.id, occurred_at=now))
