from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain.errors import InvalidValue
from shop.domain.events import TokensRevoked, UserRegistered
from shop.domain.text import PASSWORD_PATTERN, normalise
from shop.domain.users import (
    AGE_MAX,
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    USERNAME_MAX,
    USERNAME_PATTERN,
    Role,
    User,
    check_account,
    check_age,
    check_contact,
    check_email,
    check_password,
    check_phone,
    check_username,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "username",
    ["alice", "A", "a.b@c+d-e_f", "user_42", "x" * USERNAME_MAX, "émile", "陳小明", "Ελένη", "Дмитрий", "ali_٣"],
)
def test_valid_usernames_are_letters_and_digits_of_any_script(username: str) -> None:
    assert check_username(username) == username


@pytest.mark.parametrize(
    ("username", "stored"),
    [
        ("alice\u200b", "alice"),
        ("\u202ealice", "alice"),
        ("\uff41\uff4c\uff49\uff43\uff45", "alice"),
        ("e\u0301mile", "émile"),
    ],
)
def test_usernames_are_stored_normalised(username: str, stored: str) -> None:
    assert check_username(username) == stored
    registered = User.register(username=username, password_hash="h", now=NOW)
    assert registered.username == stored


@pytest.mark.parametrize(
    "username",
    [
        "",
        "x" * (USERNAME_MAX + 1),
        "with space",
        "a/b",
        "semi;colon",
        "alice\n",
        "\nalice",
        "tab\t",
        "nul\x00",
        "\u200b",
        "½",  # NFKC spells it 1, U+2044 FRACTION SLASH, 2: no letter
        "smile\u263a",
    ],
)
def test_invalid_usernames(username: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        check_username(username)
    assert list(caught.value.errors) == ["username"]


def test_the_username_rule_says_any_script() -> None:
    with pytest.raises(InvalidValue, match=r"letters, digits and @ \. \+ - _ \(any script\)"):
        check_username("a b")


@pytest.mark.parametrize(("field", "value"), [("email", "a\x00b@example.com"), ("phone", "+886\x00 2")])
def test_contact_fields_refuse_control_characters(field: str, value: str) -> None:
    with pytest.raises(InvalidValue, match="U\\+0000") as caught:
        check_contact(email=value if field == "email" else None, age=None, phone=value if field == "phone" else None)
    assert list(caught.value.errors) == [field]


def test_a_quoted_email_local_part_may_not_hide_a_control_character() -> None:
    with pytest.raises(InvalidValue):
        check_email('"a\x07b"@example.com')


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
        ("\uff41\uff4c\uff49\uff43\uff45smith", "aliceSMITH", "same as the username"),
        ("pass\x00word", "alice", r"U\+0000"),
        ("\x1b[31mpassword", "alice", r"U\+001B"),
        ("12345678", "alice", "entirely numeric"),
        ("9" * 20, "alice", "entirely numeric"),
    ],
)
def test_password_policy(password: str, username: str, fragment: str) -> None:
    with pytest.raises(InvalidValue, match=fragment) as caught:
        check_password(password, username)
    assert list(caught.value.errors) == ["password"]
    assert len(caught.value.errors["password"]) == 1


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


@pytest.mark.parametrize(
    "email",
    [
        "a@example.com",
        "first.last+tag@sub.example.co.uk",
        "o'brien@example.ie",
        "josé@example.com",  # RFC 6531: the API took these before the rule moved to the domain
        '"quoted local"@example.com',
        "a@bücher.example",  # an IDN, checked once encoded
        "a@xn--bcher-kva.example",
        "a@[192.0.2.1]",
        "root@localhost",
        "x" * 64 + "@example.com",
        "a@" + "b" * 63 + ".example",
    ],
)
def test_valid_emails(email: str) -> None:
    assert check_email(email) == email


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@@example.com",
        "a b@example.com",
        "a@example",  # no top-level domain
        "a@example.123",  # a numeric one delivers nowhere
        "a@-example.com",
        "a@example-.com",
        "a@exa_mple.com",
        "a@example..com",
        "a@example.com\n",
        "x" * 65 + "@example.com",  # a local part is at most 64
        "a@" + "b" * 64 + ".example",  # a label is at most 63
        "a@" + "b." * 125 + "example",  # longer than EMAIL_MAX
    ],
)
def test_invalid_emails(email: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        check_email(email)
    assert list(caught.value.errors) == ["email"]


def test_the_longest_email_is_accepted_and_one_more_character_is_not() -> None:
    def address(last_label: int) -> str:
        return "a" * 10 + "@" + ".".join(["b" * 63] * 3 + ["b" * last_label, "com"])

    assert len(address(47)) == EMAIL_MAX
    assert check_email(address(47)) == address(47)
    with pytest.raises(InvalidValue):
        check_email(address(48))


@pytest.mark.parametrize("age", [None, 0, 1, AGE_MAX])
def test_valid_ages(age: int | None) -> None:
    assert check_age(age) == age


@pytest.mark.parametrize("age", [-1, AGE_MAX + 1])
def test_invalid_ages(age: int) -> None:
    with pytest.raises(InvalidValue) as caught:
        check_age(age)
    assert list(caught.value.errors) == ["age"]


@pytest.mark.parametrize("phone", [None, "123", "+886 2 1234-5678", "(02) 1234 5678", "+" + "1" * 32])
def test_valid_phones(phone: str | None) -> None:
    assert check_phone(phone) == phone


FULL_WIDTH_DIGITS = "\uff11\uff12\uff13"


@pytest.mark.parametrize("phone", ["12", "1" * 33, "++123", "123+", "12a34", "123\n", "\n123", FULL_WIDTH_DIGITS])
def test_invalid_phones(phone: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        check_phone(phone)
    assert list(caught.value.errors) == ["phone"]


def test_an_account_is_checked_whole_every_problem_at_once() -> None:
    with pytest.raises(InvalidValue) as caught:
        check_account(username="bad name", password="12345678", email="nope", age=-1, phone="x")
    assert set(caught.value.errors) == {"username", "password", "email", "age", "phone"}


def test_a_password_may_not_be_the_name_the_account_keeps() -> None:
    with pytest.raises(InvalidValue) as caught:
        check_account(password="Alice-Smith", known_as="alice-smith")
    assert list(caught.value.errors) == ["password"]
    check_account(username="bob-jones", password="Alice-Smith", known_as="alice-smith")  # the name changes too


def test_registering_tells_every_problem_at_once() -> None:
    with pytest.raises(InvalidValue) as caught:
        User.register(username="", password_hash="h", email="a@", age=AGE_MAX + 1, phone="1", now=NOW)
    assert set(caught.value.errors) == {"username", "email", "age", "phone"}


def test_an_account_is_read_back_as_stored_even_if_a_rule_became_stricter() -> None:
    stored = User(username="legacy", password_hash="h", email="a@example.123", phone="123\n", id=1)
    assert (stored.email, stored.phone) == ("a@example.123", "123\n")


def test_renaming_checks_the_new_name_and_keeps_the_old_one_when_refused() -> None:
    alice = user()
    with pytest.raises(InvalidValue):
        alice.rename("alice smith")
    assert alice.username == "alice"
    alice.rename("Alice.Smith")
    assert alice.username == "Alice.Smith"


def test_a_contact_change_is_checked_whole_and_keeps_what_is_not_given() -> None:
    alice = User(username="alice", password_hash="h", email="a@example.com", age=30, phone="123", id=1)
    with pytest.raises(InvalidValue) as caught:
        alice.change_contact(email="b@example.com", age=-5)
    assert list(caught.value.errors) == ["age"]
    assert (alice.email, alice.age, alice.phone) == ("a@example.com", 30, "123")
    alice.change_contact(age=31)
    assert (alice.email, alice.age, alice.phone) == ("a@example.com", 31, "123")


def test_a_contact_change_clears_a_field_given_as_none() -> None:
    alice = User(username="alice", password_hash="h", email="a@example.com", age=30, phone="123", id=1)
    alice.change_contact(email=None, phone=None)
    assert (alice.email, alice.age, alice.phone) == (None, 30, None)
    with pytest.raises(InvalidValue) as caught:
        alice.change_contact(age=None, phone="call me")
    assert list(caught.value.errors) == ["phone"]
    assert alice.age == 30
    alice.change_contact(age=None)
    assert alice.age is None


def test_demote_makes_a_customer_and_revokes_tokens_once() -> None:
    boss = User(username="boss", password_hash="h", role=Role.MANAGER, id=7)

    boss.demote(NOW)
    boss.demote(NOW)

    assert (boss.role, boss.token_version) == (Role.CUSTOMER, 1)
    assert [type(e) for e in boss.events] == [TokensRevoked]


@given(st.from_regex(USERNAME_PATTERN, fullmatch=True).filter(lambda name: len(name) <= USERNAME_MAX))
def test_the_documented_pattern_is_the_rule_for_names_already_normalised(name: str) -> None:
    if normalise(name) == name:  # NFKC may turn a letter into what is none (½: 1, a fraction slash, 2)
        assert check_username(name) == name


@given(st.text(max_size=20))
def test_every_stored_username_matches_the_documented_pattern(raw: str) -> None:
    try:
        stored = check_username(raw)
    except InvalidValue:
        return
    assert re.fullmatch(USERNAME_PATTERN, stored)


@given(st.text(min_size=PASSWORD_MIN, max_size=PASSWORD_MAX))
def test_the_documented_password_pattern_admits_only_what_the_policy_may_accept(password: str) -> None:
    """A client following the OpenAPI document's pattern never sends a password the text rules refuse
    (schemathesis generates from it): what the pattern refuses, the policy refuses too."""
    if re.fullmatch(PASSWORD_PATTERN, password) is None:
        with pytest.raises(InvalidValue):
            check_password(password, "someone")
