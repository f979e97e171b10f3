from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from shop.domain.errors import InvalidValue, Problems
from shop.domain.events import Event, ProductChanged, ProductCreated, ProductDeleted
from shop.domain.money import Money
from shop.domain.text import check_text, normalise

NAME_MAX = 200
STOCK_MAX = 2_147_483_647
# A count typed in a form: ASCII digits (str.isdigit() also takes "²"), a sign, at most 12 of them.
_COUNT_TEXT = re.compile(r"[+-]?[0-9]{1,12}")
NOT_A_COUNT = "Not a valid integer."  # marshmallow's words, as the API answers the same mistake


def check_name(name: str) -> str:
    """The name as stored: normalised (shop.domain.text), without surrounding spaces."""
    name = normalise(check_text(name, "name")).strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidValue.single("name", f"Must be 1 to {NAME_MAX} characters, not only spaces.")
    return name


def read_count(raw: object, field_name: str) -> int:
    """A whole number as it was sent: an int (a JSON body), or its digits as text (a form's field)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and _COUNT_TEXT.fullmatch(raw.strip()):
        return int(raw.strip())
    raise InvalidValue.single(field_name, NOT_A_COUNT)


def check_stock(stock: object, field_name: str = "stock") -> int:
    count = read_count(stock, field_name)
    if not 0 <= count <= STOCK_MAX:
        raise InvalidValue.single(field_name, f"Must be between 0 and {STOCK_MAX}.")
    return count


@dataclass(eq=False)
class Product:
    """A product of the catalog. It can't be made (create), nor changed, into one that breaks a rule
    above. Built from storage as it was stored: a rule made stricter later applies to its next change."""

    name: str
    price: Money
    stock: int
    id: int | None = field(default=None)
    # A deleted product leaves the catalog; past order lines keep their copy of it.
    deleted: bool = False
    events: list[Event] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        check_stock(self.stock)

    @classmethod
    def create(cls, *, name: str, price: object, currency: object, stock: object, now: datetime) -> Product:
        """A new product, from what a manager sent: every problem is told at once."""
        problems = Problems()
        stored_name = problems.check(lambda: check_name(name), name)
        money = problems.check(lambda: Money.parse(price, currency), None)
        count = problems.check(lambda: check_stock(stock), 0)
        problems.raise_any()
        assert money is not None
        product = cls(name=stored_name, price=money, stock=count)
        product.events.append(ProductCreated(product=product, occurred_at=now))
        return product

    def change(
        self,
        *,
        now: datetime,
        name: str | None = None,
        price: object = None,
        currency: str | None = None,
        stock: object = None,
    ) -> None:
        """A manager's edit: None keeps a field. A new price keeps the currency and a new currency the
        amount. Every field is checked before any changes; one event tells what changed, if anything."""
        problems = Problems()
        new_name = self.name if name is None else problems.check(lambda: check_name(name), self.name)
        new_price = problems.check(lambda: self._new_price(price, currency), self.price)
        new_stock = self.stock if stock is None else problems.check(lambda: check_stock(stock), self.stock)
        problems.raise_any()
        old = (self.name, self.price, self.stock)
        self.name, self.price, self.stock = new_name, new_price, new_stock
        changed = frozenset(
            f
            for f, before, now_ in zip(("name", "price", "stock"), old, (new_name, new_price, new_stock), strict=True)
            if before != now_
        )
        if changed:
            self.events.append(ProductChanged(product=self, fields=changed, occurred_at=now))

    def adjust_stock(self, by: object, now: datetime) -> None:
        """Restock (by > 0) or write off (by < 0) units: relative, so orders that took stock since the
        manager looked are not undone. The stock stays within its bounds."""
        by = read_count(by, "adjustment")
        if by == 0:
            raise InvalidValue.single("adjustment", "Give a number of units to add (or, negative, to remove).")
        if not 0 <= self.stock + by <= STOCK_MAX:
            raise InvalidValue.single(
                "adjustment", f"The stock is {self.stock}: it can change by {-self.stock} to {STOCK_MAX - self.stock}."
            )
        self.change(stock=self.stock + by, now=now)

    def _new_price(self, amount: object, currency: str | None) -> Money:
        if amount is None and currency is None:
            return self.price
        return Money.parse(
            self.price.amount if amount is None else amount, self.price.currency if currency is None else currency
        )

    def delete(self, now: datetime) -> None:
        """Leave the catalog; orders placed before keep their lines."""
        self.deleted = True
        self.events.append(ProductDeleted(product=self, occurred_at=now))

    @property
    def orderable(self) -> bool:
        return not self.deleted

    def can_take(self, quantity: int) -> bool:
        return quantity <= self.stock

    def take(self, quantity: int) -> None:
        if not self.can_take(quantity):
            raise ValueError(f"cannot take {quantity} of {self.stock}")
        self.stock -= quantity

    def give_back(self, quantity: int) -> None:
        self.stock = check_stock(self.stock + quantity)
