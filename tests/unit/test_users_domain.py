from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop.domain.errors import InvalidValue
from shop.domain.events import TokensRevoked, UserRegistered
from shop.domain.users import PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, Role, User, check_password, check_username


@pytest.mark.parametrize("username", ["alice", "A", "a.b@c+d-e_f", "user_42", "x" * USERNAME_MAX])
def test_valid_usernames(username: str) -> None:
    assert check_username(username) == username


@pytest.mark.parametrize(
    "username",
    ["", "x" * (USERNAME_MAX + 1), "with space", "émile", "a/b", "semi;colon", "alice\n", "\nalice", "tab\t"],
)
def test_invalid_usernames(username: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        check_username(username)
    assert list(caught.value.errors) == ["username"]


@pytest.mark.parametrize(
    "password", ["correct horse", "abcdefgh", "1234567a", "x" * PASSWORD_MIN, "x" * PASSWORD_MAX, "ALICE-smith"]
)
def test_valid_passwords(password: str) -> None:
    assert check_password(password, "alice") == password


@pytest.mark.parametrize(
    ("password", "username", "fragment"),
    [
        ("x" * (PASSWORD_MIN - 1), "alice", "Too short"),
        ("x" * (PASSWORD_MAX + 1), "alice", "Too long"),
        ("alicesmith", "alicesmith", "same as the username"),
        ("AliceSmith", "aliceSMITH", "same as the username"),
        ("12345678", "alice", "entirely numeric"),
        ("9" * 20, "alice", "entirely numeric"),
    ],
)
def test_password_policy(password: str, username: str, fragment: str) -> None:
    with pytest.raises(InvalidValue, match=fragment) as caught:
        check_password(password, username)
    assert list(caught.value.errors) == ["password"]
    assert len(caught.value.errors["password"]) == 1


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_every_broken_password_rule_is_reported() -> None:
    with pytest.raises(InvalidValue) as caught:
        check_password("1234", "1234")
    messages = " ".join(caught.value.errors["password"])
    assert len(caught.value.errors["password"]) == 3
    assert "Too short" in messages
    assert "same as the username" in messages
    assert "numeric" in messages


def user(role: Role = Role.CUSTOMER) -> User:
    return User(username="alice", password_hash="h0", role=role, id=1)


def test_new_user_defaults() -> None:
    alice = user()
    assert alice.active
    assert alice.token_version == 0
    assert not alice.is_manager
    assert user(Role.MANAGER).is_manager


def test_change_password_revokes_tokens() -> None:
    alice = user()
    alice.change_password("h1", NOW)
    assert alice.password_hash == "h1"
    assert alice.token_version == 1


def test_rehash_keeps_tokens() -> None:
    alice = user()
    alice.rehash_password("h1")
    assert alice.password_hash == "h1"
    assert alice.token_version == 0


def test_promote_revokes_tokens_once() -> None:
    alice = user()
    alice.promote(NOW)
    assert alice.role is Role.MANAGER
    assert alice.is_manager
    assert alice.token_version == 1
    alice.promote(NOW)
    assert alice.token_version == 1


def test_deactivate_revokes_tokens() -> None:
    alice = user()
    alice.deactivate(NOW)
    assert not alice.active
    assert alice.token_version == 1


def test_registering_records_the_event() -> None:
    alice = User.register(username="alice", password_hash="h", email="a@example.com", now=NOW)
    assert alice.events == [UserRegistered(user=alice, occurred_at=NOW)]
    assert alice.role is Role.CUSTOMER


def test_registering_checks_the_username() -> None:
    with pytest.raises(InvalidValue):
        User.register(username="alice\n", password_hash="h", now=NOW)


@pytest.mark.parametrize("change", ["password", "promote", "deactivate"])
def test_every_revocation_of_all_tokens_is_told(change: str) -> None:
    alice = user()
    {"password": lambda: alice.change_password("h1", NOW), "promote": lambda: alice.promote(NOW),
     "deactivate": lambda: alice.deactivate(NOW)}[change]()  # fmt: skip
    assert alice.events == [TokensRevoked(user_id=1, occurred_at=NOW)]


def test_a_rehash_or_a_second_promotion_tells_nothing() -> None:
    alice = user(Role.MANAGER)
    alice.rehash_password("h1")
    alice.promote(NOW)
    assert alice.events == []
