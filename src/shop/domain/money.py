from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from iso4217 import Currency, raw_xml

from shop.domain.errors import DomainError, InvalidValue, Problems

# Amounts are kept in thousandths (adapters/sql: *_milli): no currency a price may be in has more.
MAX_PLACES = 3
_FUNDS = frozenset(
    code
    for entry in raw_xml.iter("CcyNtry")
    if (name := entry.find("CcyNm")) is not None
    and name.get("IsFund") == "true"
    and (code := entry.findtext("Ccy")) is not None
)
# The currencies a price may be in, and the decimals of each: ISO 4217's own table (the iso4217
# package, released as ISO amends it). Funds (BOV, CLF, USN...) are left out, and so are the codes
# without minor units (precious metals XAU..., units of account XDR..., testing XTS, "no currency" XXX).
MINOR_UNITS: Mapping[str, int] = {
    currency.code: currency.exponent
    for currency in Currency
    if currency.exponent is not None and currency.exponent <= MAX_PLACES and currency.code not in _FUNDS
}
ISO_4217 = frozenset(MINOR_UNITS)
# Every price was kept in cents before migration 0010: a price stored then (a yen price with cents), or
# in a code ISO 4217 withdrew since (BGN, 2026), is shown with them.
LEGACY_PLACES = 2

_QUANTA = [Decimal(1).scaleb(-places) for places in range(MAX_PLACES + 1)]
# Digits with an optional fraction: no exponents ("1e2"), no underscores ("1_000"), at most 32 characters.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,10})?")
MAX_AMOUNT = Decimal("100000000")  # exclusive: prices stay below one hundred million


class CurrencyMismatch(DomainError):
    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"Cannot combine {left} with {right}.")


def minor_units(currency: str) -> int:
    """The decimals of a currency's amounts (JPY 0, USD 2, KWD 3)."""
    return MINOR_UNITS.get(currency, LEGACY_PLACES)


def parse_amount(raw: object, field: str = "price", places: int = 2) -> Decimal:
    """A non-negative amount below MAX_AMOUNT with at most `places` decimals, from str, int or Decimal."""
    amount = _plain_amount(raw, field)
    if not _has_places(amount, places):
        raise InvalidValue.single(field, f"Must have at most {places} decimal places.")
    return amount.quantize(_QUANTA[places])


def _plain_amount(raw: object, field: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise InvalidValue.single(field, "Must be a decimal number.")
    if isinstance(raw, str) and not _PLAIN_DECIMAL.fullmatch(raw.strip()):
        raise InvalidValue.single(field, "Must be a plain decimal number such as 10 or 10.50.")
    try:
        amount = Decimal(raw.strip() if isinstance(raw, str) else raw)
    except InvalidOperation:
        raise InvalidValue.single(field, "Must be a decimal number.") from None
    if not amount.is_finite():
        raise InvalidValue.single(field, "Must be a finite decimal number.")
    if amount < 0:
        raise InvalidValue.single(field, "Must not be negative.")
    if amount >= MAX_AMOUNT:
        raise InvalidValue.single(field, f"Must be less than {MAX_AMOUNT}.")
    return abs(amount)  # abs: "-0" must not become a negative zero


def _has_places(amount: Decimal, places: int) -> bool:
    return places <= MAX_PLACES and amount == amount.quantize(_QUANTA[places])


def _check_places(amount: Decimal, currency: str, field: str) -> None:
    places = MINOR_UNITS[currency]
    if _has_places(amount, places):
        return
    if places == 0:
        raise InvalidValue.single(field, f"{currency} has no minor unit: give a whole amount.")
    raise InvalidValue.single(field, f"{currency} amounts have at most {places} decimals.")


def parse_currency(raw: object, field: str = "currency") -> str:
    if not isinstance(raw, str) or raw not in ISO_4217:
        raise InvalidValue.single(field, "Must be an ISO 4217 currency code such as TWD or USD.")
    return raw


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency, with that currency's decimals (ISO 4217). Never a float; never
    an amount without its currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        checked = Money._read(self.amount, self.currency, "amount")
        object.__setattr__(self, "amount", checked.amount)

    @classmethod
    def parse(cls, raw_amount: object, raw_currency: object, *, field: str = "price") -> Money:
        """Money from what a client sent (a string or a number, a currency code): the one place a
        price is read. Problems are reported under `field` and "currency", all at once."""
        return cls._read(raw_amount, raw_currency, field)

    @classmethod
    def _read(cls, raw_amount: object, raw_currency: object, field: str) -> Money:
        problems = Problems()
        amount = problems.check(lambda: _plain_amount(raw_amount, field), None)
        currency = problems.check(lambda: parse_currency(raw_currency), None)
        if amount is not None:
            if currency is not None:
                problems.check(lambda: _check_places(amount, currency, field), None)
            elif not _has_places(amount, MAX_PLACES):
                problems.check(lambda: parse_amount(amount, field, MAX_PLACES), None)
        problems.raise_any()
        assert amount is not None
        assert currency is not None
        return cls._unchecked(amount, currency)

    @classmethod
    def trusted(cls, amount: Decimal, currency: str) -> Money:
        """A value read back from storage, checked when it was written: no need to check it again."""
        return cls._unchecked(amount, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls._unchecked(Decimal(0), currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        return Money._unchecked(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money._unchecked(self.amount * quantity, self.currency)

    @classmethod
    def _unchecked(cls, amount: Decimal, currency: str) -> Money:
        """Sums and line totals may exceed the bound on a single price. The amount gets the currency's
        decimals; one stored with more (a yen price with cents, from before the yen's rule) keeps them
        all: money is never rounded away."""
        money = object.__new__(cls)
        object.__setattr__(money, "amount", _scaled(amount, minor_units(currency)))
        object.__setattr__(money, "currency", currency)
        return money

    @property
    def amount_text(self) -> str:
        """The amount as the API shows it: JPY "100", USD "10.50", KWD "1.250"."""
        return f"{self.amount:f}"

    def __str__(self) -> str:
        return f"{self.amount_text} {self.currency}"


def _scaled(amount: Decimal, places: int) -> Decimal:
    """amount with `places` decimals, or with cents (how every price was kept before), or thousandths."""
    for more in sorted({places, max(places, LEGACY_PLACES), MAX_PLACES}):
        if amount == amount.quantize(_QUANTA[more]):
            return amount.quantize(_QUANTA[more])
    return amount
