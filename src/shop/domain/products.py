from __future__ import annotations

from dataclasses import dataclass, field

from shop.domain.errors import InvalidValue
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

    def __post_init__(self) -> None:
        self.name = check_name(self.name)
        check_stock(self.stock)

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

    def set_stock(self, stock: int) -> None:
        self.stock = check_stock(stock)
