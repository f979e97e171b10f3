from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from shop.domain.errors import InvalidValue
from shop.domain.money import ISO_4217, MAX_AMOUNT, MINOR_UNITS, CurrencyMismatch, Money, parse_amount, parse_currency


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


@pytest.mark.parametrize(
    "raw",
    [
        *["usd", "Usd", "US", "USDD", "", "ABC", " USD", 840, None],
        *["XXX", "XTS", "XAU", "XAG", "XDR", "XSU"],  # no minor unit: testing, no currency, metals, units
        *["BOV", "CLF", "USN", "UYI", "CHE"],  # funds
        "UYW",  # 4 decimals: more than an amount is kept with
        "BGN",  # withdrawn: Bulgaria uses the euro since 2026
    ],
)
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
    assert Money.zero("JPY").amount_text == "0"
    assert Money.zero("KWD").amount_text == "0.000"


@pytest.mark.parametrize(("code", "places"), [("TWD", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3)])
def test_each_currency_has_its_iso_minor_units(code: str, places: int) -> None:
    assert MINOR_UNITS[code] == places
    assert code in ISO_4217


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("10", "TWD", "10.00"),
        ("10.5", "USD", "10.50"),
        ("100", "JPY", "100"),
        ("100.000", "JPY", "100"),
        ("1.25", "KWD", "1.250"),
        ("1.234", "BHD", "1.234"),
        ("0", "KRW", "0"),
    ],
)
def test_an_amount_is_read_with_its_currencys_decimals(amount: str, currency: str, shown: str) -> None:
    money = Money.parse(amount, currency)
    assert money.amount_text == shown
    assert str(money) == f"{shown} {currency}"


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("100.50", "JPY", "JPY has no minor unit: give a whole amount."),
        ("0.5", "KRW", "KRW has no minor unit: give a whole amount."),
        ("1.2345", "KWD", "KWD amounts have at most 3 decimals."),
        ("10.505", "USD", "USD amounts have at most 2 decimals."),
    ],
)
def test_an_amount_with_more_decimals_than_its_currency_has_is_refused(
    amount: str, currency: str, message: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        Money.parse(amount, currency)
    assert caught.value.errors == {"price": [message]}


def test_with_an_unknown_currency_an_amount_may_have_the_most_decimals_any_currency_has() -> None:
    with pytest.raises(InvalidValue) as caught:
        Money.parse("1.234", "XYZ")
    assert list(caught.value.errors) == ["currency"]
    with pytest.raises(InvalidValue) as caught:
        Money.parse("1.2345", "XYZ")
    assert set(caught.value.errors) == {"price", "currency"}


def test_a_filter_amount_has_no_currency_and_takes_up_to_three_decimals() -> None:
    assert parse_amount("1.234", "min_price", places=3) == Decimal("1.234")
    with pytest.raises(InvalidValue, match="at most 3 decimal places"):
        parse_amount("1.2345", "min_price", places=3)


def test_arithmetic_keeps_the_currencys_decimals() -> None:
    assert Money(Decimal("1.250"), "KWD").times(3).amount_text == "3.750"
    assert (Money(Decimal("100"), "JPY") + Money(Decimal("250"), "JPY")).amount_text == "350"
    assert Money(Decimal("0.10"), "USD").times(3).amount_text == "0.30"


@pytest.mark.parametrize(
    ("stored", "currency", "shown"),
    [
        ("100.50", "JPY", "100.50"),  # stored before the yen's rule applied: never rounded away
        ("100.000", "JPY", "100"),
        ("10.500", "BGN", "10.50"),  # withdrawn from ISO 4217 since: priced with cents, as stored
        ("1.250", "KWD", "1.250"),
    ],
)
def test_a_stored_amount_is_shown_exactly(stored: str, currency: str, shown: str) -> None:
    money = Money.trusted(Decimal(stored), currency)
    assert money.amount_text == shown
    assert money.times(2).amount == Decimal(stored) * 2
