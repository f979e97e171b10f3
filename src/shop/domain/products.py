from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shop.domain.errors import InvalidValue
from shop.domain.events import Event, ProductChanged, ProductCreated, ProductDeleted
from shop.domain.money import Money

NAME_MAX = 200
STOCK_MAX = 2_147_483_647


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidValue.single("name", f"Must be 1 to {NAME_MAX} characters, not only spaces.")
    return name


def check_stock(stock: int, field_name: str = "stock") -> int:
    if not 0 <= stock <= STOCK_MAX:
        raise InvalidValue.single(field_name, f"Must be between 0 and {STOCK_MAX}.")
    return stock


@dataclass(eq=False)
class Product:
    name: str
    price: Money
    stock: int
    id: int | None = field(default=None)
    # A deleted product leaves the catalog; past order lines keep their copy of it.
    deleted: bool = False
    events: list[Event] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.name = check_name(self.name)
        check_stock(self.stock)

    @classmethod
    def create(cls, *, name: str, price: Money, stock: int, now: datetime) -> Product:
        """A new product of the catalog."""
        product = cls(name=name, price=price, stock=stock)
        product.events.append(ProductCreated(product=product, occurred_at=now))
        return product

    def change(
        self, *, now: datetime, name: str | None = None, price: Money | None = None, stock: int | None = None
    ) -> None:
        """A manager's edit: every given field is checked before any is changed; None keeps a field."""
        new_name = check_name(name) if name is not None else self.name
        new_stock = check_stock(stock) if stock is not None else self.stock
        new_price = price if price is not None else self.price
        changed = frozenset(
            field_name
            for field_name, old, new in (
                ("name", self.name, new_name),
                ("price", self.price, new_price),
                ("stock", self.stock, new_stock),
            )
            if old != new
        )
        self.name, self.price, self.stock = new_name, new_price, new_stock
        if changed:
            self.events.append(ProductChanged(product=self, fields=changed, occurred_at=now))

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
