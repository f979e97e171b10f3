from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from shop.domain.errors import DomainError, InvalidValue, Problems

# Active ISO 4217 codes (2024 list), funds and precious metals excluded.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED
    VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 - a table reads better than a list of strings
)

CENT = Decimal("0.01")
# Digits with an optional fraction: no exponents ("1e2"), no underscores ("1_000"), at most 32 characters.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,10})?")
MAX_AMOUNT = Decimal("100000000")  # exclusive: prices stay below one hundred million


class CurrencyMismatch(DomainError):
    def __init__(self, left: str, right: str) -> None:
        super().__init__(f"Cannot combine {left} with {right}.")


def parse_amount(raw: object, field: str = "price") -> Decimal:
    """A non-negative amount below MAX_AMOUNT with at most two decimals, from str, int or Decimal."""
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
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_EVEN):
        raise InvalidValue.single(field, "Must have at most 2 decimal places.")
    return abs(amount.quantize(CENT))  # abs: "-0" must not become a negative zero


def parse_currency(raw: object, field: str = "currency") -> str:
    if not isinstance(raw, str) or raw not in ISO_4217:
        raise InvalidValue.single(field, "Must be an ISO 4217 currency code such as TWD or USD.")
    return raw


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency. Never a float; never an amount without its currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", parse_amount(self.amount, "amount"))
        parse_currency(self.currency)

    @classmethod
    def parse(cls, raw_amount: object, raw_currency: object, *, field: str = "price") -> Money:
        """Money from what a client sent (a string or a number, a currency code): the one place a
        price is read. Problems are reported under `field` and "currency", both at once."""
        problems = Problems()
        amount = problems.check(lambda: parse_amount(raw_amount, field), None)
        currency = problems.check(lambda: parse_currency(raw_currency), None)
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
        return cls(Decimal(0), currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        return Money._unchecked(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money._unchecked(self.amount * quantity, self.currency)

    @classmethod
    def _unchecked(cls, amount: Decimal, currency: str) -> Money:
        """Sums and line totals may exceed the bound on a single price."""
        money = object.__new__(cls)
        object.__setattr__(money, "amount", amount.quantize(CENT))
        object.__setattr__(money, "currency", currency)
        return money

    def __str__(self) -> str:
        return f"{self.amount:.2f} {self.currency}"
