"""The text rules every stored or searched text follows (shop.domain.text)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.domain.errors import InvalidValue
from shop.domain.text import check_text, comparison_key, normalise, search_key

REFUSED = [
    "\x00",  # NUL: PostgreSQL can't store it
    "\x07",
    "\t",
    "\n",
    "\r",
    "\x1b[31m",
    "\x1f",
    "\x7f",  # DEL
    "\x80",  # C1 controls
    "\x9b",
    "\u2028",  # line and paragraph separators
    "\u2029",
    "\ud800",  # a lone surrogate: not Unicode text at all
    "\udfff",
    "\ufdd0",  # noncharacters
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\U0010ffff",
]


@pytest.mark.parametrize("bad", REFUSED)
def test_controls_surrogates_and_noncharacters_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        check_text(f"tea{bad}pot", "name")

    assert list(caught.value.errors) == ["name"]
    (message,) = caught.value.errors["name"]
    assert f"U+{ord(bad[0]):04X}" in message
    assert "position 4" in message


@pytest.mark.parametrize("fine", ["Café crème", "陳小明", "tea pot", "\u00a0", "emoji \U0001f375", "\ue000", "\u200b"])
def test_printable_text_of_any_script_passes_unchanged(fine: str) -> None:
    assert check_text(fine, "name") == fine


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Matcha\u200b", "Matcha"),  # zero-width space
        ("Mat\u200dcha", "Matcha"),  # zero-width joiner
        ("\ufeffMatcha", "Matcha"),  # byte order mark
        ("\u202eahctaM", "ahctaM"),  # right-to-left override
        ("Mat\u2066cha\u2069", "Matcha"),  # bidi isolates
        ("Mat\u00adcha", "Matcha"),  # soft hyphen
        ("\uff2d\uff41\uff54\uff43\uff48\uff41", "Matcha"),  # full-width letters (NFKC)
        ("ﬁne", "fine"),  # a ligature (NFKC)
        ("Cafe\u0301", "Café"),  # a combining accent, composed (NFKC)
        ("①", "1"),
        ("a\u3000b", "a b"),  # ideographic space
    ],
)
def test_normalise_strips_invisible_characters_and_applies_nfkc(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Matcha", "MATCHA"),
        ("Matcha", "Matcha\u200b"),
        ("Matcha", "\uff2d\uff41\uff54\uff43\uff48\uff41"),
        ("Café crème", "CAFÉ CRÈME"),
        ("Café", "Cafe\u0301"),
        ("Straße", "STRASSE"),  # case folding, not lower(): ß folds to ss
        ("ΣΊΣΥΦΟΣ", "σίσυφος"),  # final sigma
        ("ǅ", "ǆ"),  # title case digraph
    ],
)
def test_texts_differing_in_case_width_or_invisible_characters_have_one_key(one: str, other: str) -> None:
    assert comparison_key(one) == comparison_key(other)


@pytest.mark.parametrize(("one", "other"), [("Matcha", "Matcha Latte"), ("Tea", "Teas"), ("a b", "ab")])
def test_different_texts_keep_different_keys(one: str, other: str) -> None:
    assert comparison_key(one) != comparison_key(other)


@given(st.text())
def test_a_key_is_its_own_key(value: str) -> None:
    key = comparison_key(value)
    assert comparison_key(key) == key
    assert unicodedata.is_normalized("NFKC", key)


@given(st.text(), st.text(), st.text())
def test_the_key_of_a_piece_is_found_in_the_key_of_a_text_holding_it(before: str, piece: str, after: str) -> None:
    # The spaces keep a combining mark of `after` from composing with the piece's last letter.
    assert comparison_key(piece) in comparison_key(f"{before} {piece} {after}")


def test_search_key_refuses_what_check_text_refuses_and_keys_the_rest() -> None:
    assert search_key("CAFÉ", "q") == "café"
    with pytest.raises(InvalidValue) as caught:
        search_key("a\x00b", "q")
    assert list(caught.value.errors) == ["q"]
