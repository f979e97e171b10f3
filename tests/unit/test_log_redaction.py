"""What the log formatter scrubs from every line, whatever its source."""

from __future__ import annotations

import pytest

from shop.entrypoints.logs import REDACTED, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer s3cr3t-metrics-token", f"Authorization: {REDACTED}"),
        ("authorization: BeaRer s3cr3t-metrics-token", f"authorization: {REDACTED}"),
        ("BEARER abc, next", f"{REDACTED}, next"),
        (f"token={JWT} rest", f"token={REDACTED} rest"),
        (f"refresh {JWT}", f"refresh {REDACTED}"),
    ],
)
def test_credentials_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", ["GET /products/", "eyJust kidding", "status 201 in 4.2 ms"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) is text


def test_the_word_after_bearer_goes_even_in_prose() -> None:
    """Erring on the side of losing a word: it could be a credential."""
    assert redact("a bearer of good news") == f"a {REDACTED} good news"
