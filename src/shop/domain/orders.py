from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shop.domain.errors import InsufficientStock, InvalidTransition, InvalidValue, Shortage
from shop.domain.events import Event, OrderCancelled, OrderFulfilled, OrderPlaced
from shop.domain.money import Money
from shop.domain.products import Product

QUANTITY_MAX = 10_000
ITEMS_MAX = 100


class OrderStatus(StrEnum):
    PLACED = "placed"
    CANCELLED = "cancelled"
    FULFILLED = "fulfilled"


# Every allowed status change, in one place.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.CANCELLED, OrderStatus.FULFILLED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.FULFILLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class OrderItem:
    """What a customer asks for: a product id and a quantity."""

    product_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A copy of the product's name and unit price as they were when the order was placed."""

    product_id: int
    name: str
    unit_price: Money
    quantity: int

    @property
    def total(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(eq=False)
class Order:
    user_id: int
    lines: list[OrderLine]
    created_at: datetime
    status: OrderStatus = OrderStatus.PLACED
    updated_at: datetime | None = None
    cancelled_at: datetime | None = None
    fulfilled_at: datetime | None = None
    id: int | None = field(default=None)
    events: list[Event] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.updated_at is None:
            self.updated_at = self.created_at

    @property
    def currency(self) -> str:
        return self.lines[0].unit_price.currency

    @property
    def total(self) -> Money:
        total = Money.zero(self.currency)
        for line in self.lines:
            total = total + line.total
        return total

    @classmethod
    def place(
        cls,
        *,
        user_id: int,
        items: Sequence[OrderItem],
        products: Mapping[int, Product],
        now: datetime,
    ) -> Order:
        """Check every item, then take the stock of each product; all or nothing."""
        check_items(items, products)
        shortages = [
            Shortage(item.product_id, products[item.product_id].name, item.quantity, products[item.product_id].stock)
            for item in items
            if not products[item.product_id].can_take(item.quantity)
        ]
        if shortages:
            raise InsufficientStock(shortages)
        lines = []
        for item in items:
            product = products[item.product_id]
            product.take(item.quantity)
            lines.append(OrderLine(item.product_id, product.name, product.price, item.quantity))
        order = cls(user_id=user_id, lines=lines, created_at=now)
        order.events.append(OrderPlaced(order=order, occurred_at=now))
        return order

    def change_status(self, wanted: OrderStatus, now: datetime) -> None:
        if wanted not in TRANSITIONS[self.status]:
            raise InvalidTransition(self.status.value, wanted.value)
        self.status = wanted
        self.updated_at = now
        if wanted is OrderStatus.CANCELLED:
            self.cancelled_at = now
            self.events.append(OrderCancelled(order=self, occurred_at=now))
        elif wanted is OrderStatus.FULFILLED:
            self.fulfilled_at = now
            self.events.append(OrderFulfilled(order=self, occurred_at=now))

    def cancel(self, products: Mapping[int, Product], now: datetime) -> None:
        """Cancel and put every line's quantity back on its product's stock (deleted ones too)."""
        if OrderStatus.CANCELLED not in TRANSITIONS[self.status]:
            raise InvalidTransition(self.status.value, OrderStatus.CANCELLED.value)
        for line in self.lines:
            if line.product_id in products:
                products[line.product_id].give_back(line.quantity)
        self.change_status(OrderStatus.CANCELLED, now)

    def fulfil(self, now: datetime) -> None:
        self.change_status(OrderStatus.FULFILLED, now)


def check_item_count(count: int) -> int:
    if not 1 <= count <= ITEMS_MAX:
        raise InvalidValue.single("items", f"An order holds 1 to {ITEMS_MAX} items.")
    return count


def check_quantity(quantity: int, field: str = "quantity") -> int:
    if not 1 <= quantity <= QUANTITY_MAX:
        raise InvalidValue.single(field, f"Must be between 1 and {QUANTITY_MAX}.")
    return quantity


def check_items(items: Sequence[OrderItem], products: Mapping[int, Product]) -> None:
    check_item_count(len(items))
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    currencies: set[str] = set()
    for index, item in enumerate(items):
        try:
            check_quantity(item.quantity, f"items.{index}.quantity")
        except InvalidValue as error:
            errors.update(error.errors)
        product = products.get(item.product_id)
        if item.product_id in seen:
            errors[f"items.{index}.product"] = [f"Product {item.product_id} appears more than once."]
        elif product is None or not product.orderable:
            errors[f"items.{index}.product"] = [f"Product {item.product_id} does not exist."]
        else:
            currencies.add(product.price.currency)
        seen.add(item.product_id)
    if not errors and len(currencies) > 1:
        errors["items"] = [f"All products of an order must share one currency, got {', '.join(sorted(currencies))}."]
    if errors:
        raise InvalidValue(errors)
