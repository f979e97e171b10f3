"""Accounts: who may sign in, and every rule an account's fields follow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Final, TypeVar

from shop.domain.errors import InvalidValue, Problems
from shop.domain.events import Event, TokensRevoked, UserRegistered
from shop.domain.text import check_text, comparison_key, normalise

USERNAME_MAX = 150
# Django's rule (its UnicodeUsernameValidator), also the API's documented pattern: \w is a letter, a
# digit or "_" of any script, as in Python's and Django's regular expressions. Checked once normalised.
USERNAME_PATTERN = r"^[\w.@+-]+$"
USERNAME_RULE = f"1 to {USERNAME_MAX} characters: letters, digits and @ . + - _ (any script)."
PASSWORD_MIN = 8
PASSWORD_MAX = 128
EMAIL_MAX = 254  # RFC 5321's longest path
AGE_MAX = 150
PHONE_PATTERN = r"^\+?[0-9 ()-]{3,32}$"

T = TypeVar("T")

# fullmatch everywhere: with match() or search(), "$" also matches before a final newline, so
# "alice\n" would pass a "^...$" pattern.
_USERNAME = re.compile(USERNAME_PATTERN.strip("^$"))
_PHONE = re.compile(PHONE_PATTERN.strip("^$"))
# An address's two halves, as the HTML standard's "valid e-mail address" has them (what browsers
# accept in an e-mail field), plus a quoted local part and Unicode letters in it (RFC 6531, which
# the API took before these rules moved here); the domain may also be an IDN (Unicode labels,
# checked once encoded) or an address literal in brackets.
_LOCAL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+|\"(?:[^\"\\\r\n]|\\.)*\"")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{2,59}})|localhost")
_ADDRESS_LITERAL = re.compile(r"\[[0-9A-Fa-f:.]+\]")


class Role(StrEnum):
    CUSTOMER = "customer"
    MANAGER = "manager"


def check_username(username: str) -> str:
    """The username as stored: normalised as names are (shop.domain.text), then Django's rule."""
    username = normalise(check_text(username, "username"))
    if not 1 <= len(username) <= USERNAME_MAX or not _USERNAME.fullmatch(username):
        raise InvalidValue.single("username", USERNAME_RULE)
    return username


def check_password(password: str, username: str) -> str:
    """The policy for a new password: long enough, not the username, not only digits, no control
    characters (any other character is fine, as NIST SP 800-63B asks)."""
    problems = []
    try:
        check_text(password, "password")
    except InvalidValue as error:
        problems.extend(error.errors["password"])
    if len(password) < PASSWORD_MIN:
        problems.append(f"Too short: at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        problems.append(f"Too long: at most {PASSWORD_MAX} characters.")
    if comparison_key(password) == comparison_key(username):
        problems.append("Must not be the same as the username.")
    if password.isdigit():
        problems.append("Must not be entirely numeric.")
    if problems:
        raise InvalidValue({"password": problems})
    return password


def check_email(email: str | None) -> str | None:
    """None (no address), or an address a mail server could deliver to."""
    if email is None:
        return None
    check_text(email, "email")
    local, at, domain = email.rpartition("@")
    if not (at and len(email) <= EMAIL_MAX and len(local) <= 64 and _LOCAL.fullmatch(local) and _domain_ok(domain)):
        raise InvalidValue.single("email", "Not a valid email address.")
    return email


def _domain_ok(domain: str) -> bool:
    if _DOMAIN.fullmatch(domain) or _ADDRESS_LITERAL.fullmatch(domain):
        return True
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return encoded != domain and _DOMAIN.fullmatch(encoded) is not None


def check_age(age: int | None) -> int | None:
    if age is not None and not 0 <= age <= AGE_MAX:
        raise InvalidValue.single("age", f"Must be between 0 and {AGE_MAX}.")
    return age


def check_phone(phone: str | None) -> str | None:
    if phone is not None and not _PHONE.fullmatch(check_text(phone, "phone")):
        raise InvalidValue.single("phone", "Digits, spaces, ( ) - and a leading +, 3 to 32.")
    return phone


def check_contact(*, email: str | None, age: int | None, phone: str | None) -> None:
    """The contact fields together (None: not given), every problem told at once."""
    problems = Problems()
    problems.check(lambda: check_email(email), None)
    problems.check(lambda: check_age(age), None)
    problems.check(lambda: check_phone(phone), None)
    problems.raise_any()


class Unchanged(Enum):
    """A field a change does not give: it keeps its value (where None would clear it)."""

    KEEP = "keep"


KEEP: Final = Unchanged.KEEP


def or_none(value: T | Unchanged) -> T | None:
    """A changed field as the checks take it: None when there is nothing to check (not given, or cleared)."""
    return None if value is KEEP else value


def check_account(
    *,
    username: str | None = None,
    password: str | None = None,
    email: str | None = None,
    age: int | None = None,
    phone: str | None = None,
    known_as: str = "",
) -> None:
    """The fields of an account being made or changed (None: not given), every problem told at once,
    before a costly password hash. The password may be neither the new username nor, when the name
    stays, the current one (known_as)."""
    problems = Problems()
    if username is not None:
        problems.check(lambda: check_username(username), None)
    if password is not None:
        problems.check(lambda: check_password(password, username or known_as), None)
    problems.check(lambda: check_contact(email=email, age=age, phone=phone), None)
    problems.raise_any()


@dataclass(eq=False)
class User:
    """An account. It can't be made (register), nor changed, into one that breaks a rule above. Built
    from storage as it was stored: a rule made stricter later never locks an older account out."""

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
        check_account(username=username, email=email, age=age, phone=phone)
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

    def rename(self, username: str) -> None:
        self.username = check_username(username)

    def change_contact(
        self,
        *,
        email: str | Unchanged | None = KEEP,
        age: int | Unchanged | None = KEEP,
        phone: str | Unchanged | None = KEEP,
    ) -> None:
        """Each given field, all checked before any changes; None clears a field, one not given keeps its value."""
        check_contact(email=or_none(email), age=or_none(age), phone=or_none(phone))
        self.email = self.email if email is KEEP else email
        self.age = self.age if age is KEEP else age
        self.phone = self.phone if phone is KEEP else phone

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

    def demote(self, now: datetime) -> None:
        """Back to customer: every token (and console session) granted as a manager ends."""
        if self.role is not Role.CUSTOMER:
            self.role = Role.CUSTOMER
            self.revoke_all_tokens(now)

    def deactivate(self, now: datetime) -> None:
        self.active = False
        self.revoke_all_tokens(now)

    def revoke_all_tokens(self, now: datetime) -> None:
        self.token_version += 1
        assert self.id is not None, "only a stored user has tokens"
        self.events.append(TokensRevoked(user_id=self.id, occurred_at=now))
