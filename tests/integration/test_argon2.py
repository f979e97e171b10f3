"""The argon2 adapter: real hashes, cheap parameters."""

from __future__ import annotations

from shop.adapters.security import Argon2Hasher, Argon2Parameters

CHEAP = Argon2Parameters(memory_cost_kib=64, time_cost=1)


def test_a_password_verifies_against_its_own_hash_only() -> None:
    hasher = Argon2Hasher(CHEAP)
    stored = hasher.hash("correct-horse-battery")

    assert hasher.verify(stored, "correct-horse-battery")
    assert not hasher.verify(stored, "correct-horse-batterY")
    assert not hasher.verify("not a hash", "correct-horse-battery")


def test_a_text_that_is_not_valid_unicode_never_verifies_and_never_raises() -> None:
    hasher = Argon2Hasher(CHEAP)
    stored = hasher.hash("x")

    assert not hasher.verify(stored, "x\ud800")
    hasher.verify_dummy("\udc00")
