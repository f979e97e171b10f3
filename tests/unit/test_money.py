from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from shop.domain.errors import InvalidValue
from shop.domain.money import ISO_4217, MAX_AMOUNT, CurrencyMismatch, Money, parse_amount, parse_currency


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10", "10.00"),
        ("10.5", "10.50"),
        ("10.50", "10.50"),
        (" 3.20 ", "3.20"),
        (7, "7.00"),
        (0, "0.00"),
        (Decimal("0.01"), "0.01"),
        ("99999999.99", "99999999.99"),
        ("1.500", "1.50"),
    ],
)
def test_parse_amount_accepts_and_normalises_to_cents(raw: object, expected: str) -> None:
    amount = parse_amount(raw)
    assert amount == Decimal(expected)
    assert amount.as_tuple().exponent == -2
    assert str(amount) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1.001", "at most 2 decimal places"),
        ("0.005", "at most 2 decimal places"),
        (Decimal("1e-30"), "at most 2 decimal places"),
        ("-0.01", "negative"),
        (-1, "negative"),
        ("100000000", "less than"),
        ("100000000.00", "less than"),
        (Decimal("1e9"), "less than"),
        ("abc", "decimal number"),
        ("", "decimal number"),
        ("NaN", "plain decimal"),
        ("Infinity", "plain decimal"),
        ("-Infinity", "plain decimal"),
        (Decimal("NaN"), "finite"),
        ("1e2", "plain decimal"),
        ("1_000", "plain decimal"),
        (" 1.5.0", "plain decimal"),
        (1.5, "decimal number"),
        (True, "decimal number"),
        (None, "decimal number"),
        ([1], "decimal number"),
    ],
)
def test_parse_amount_rejects(raw: object, message: str) -> None:
    with pytest.raises(InvalidValue, match=message) as caught:
        parse_amount(raw, "price")
    assert list(caught.value.errors) == ["price"]


def test_parse_amount_reports_the_given_field() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_amount("x", "min_price")
    assert set(caught.value.errors) == {"min_price"}


def test_negative_zero_is_plain_zero() -> None:
    amount = parse_amount("-0")
    assert amount == 0
    assert not amount.is_signed()
    assert str(Money(Decimal("-0.00"), "USD")) == "0.00 USD"


@pytest.mark.parametrize("code", ["TWD", "USD", "EUR", "JPY", "KWD"])
def test_parse_currency_accepts_iso_codes(code: str) -> None:
    assert parse_currency(code) == code


@pytest.mark.parametrize("raw", ["usd", "Usd", "US", "USDD", "", "XXX", "XAU", "ABC", " USD", 840, None])
def test_parse_currency_rejects_anything_else(raw: object) -> None:
    with pytest.raises(InvalidValue, match="ISO 4217") as caught:
        parse_currency(raw, "currency")
    assert list(caught.value.errors) == ["currency"]


def test_iso_list_holds_only_three_letter_upper_case_codes() -> None:
    assert len(ISO_4217) > 150
    assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in ISO_4217)


def test_money_normalises_its_amount() -> None:
    money = Money(Decimal("5"), "TWD")
    assert money.amount == Decimal("5.00")
    assert money.amount.as_tuple().exponent == -2
    assert money == Money(Decimal("5.00"), "TWD")
    assert money != Money(Decimal("5.00"), "USD")
    assert str(money) == "5.00 TWD"


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        (Decimal("1.005"), "USD", "amount"),
        (Decimal("-1"), "USD", "amount"),
        (MAX_AMOUNT, "USD", "amount"),
        (1.5, "USD", "amount"),
        (Decimal("1"), "usd", "currency"),
        (Decimal("1"), "EURO", "currency"),
    ],
)
def test_money_rejects_invalid_parts(amount: object, currency: str, field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        Money(amount, currency)  # type: ignore[arg-type]
    assert list(caught.value.errors) == [field]


def test_money_is_immutable() -> None:
    money = Money(Decimal("1"), "USD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = Decimal("2")  # type: ignore[misc]


def test_addition_of_one_currency() -> None:
    total = Money(Decimal("0.10"), "USD") + Money(Decimal("0.20"), "USD")
    assert total == Money(Decimal("0.30"), "USD")


def test_addition_across_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch, match="USD with TWD"):
        Money(Decimal("1"), "USD") + Money(Decimal("1"), "TWD")


def test_sums_and_products_may_exceed_the_price_bound() -> None:
    big = Money(Decimal("99999999.99"), "TWD")
    assert (big + big).amount == Decimal("199999999.98")
    assert big.times(10_000).amount == Decimal("999999999900.00")


def test_times_and_zero() -> None:
    assert Money(Decimal("0.99"), "EUR").times(3) == Money(Decimal("2.97"), "EUR")
    assert Money(Decimal("4.20"), "EUR").times(0) == Money.zero("EUR")
    assert Money.zero("JPY").amount == Decimal("0.00")
    with pytest.raises(InvalidValue):
        Money.zero("nope")
