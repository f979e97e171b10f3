"""How the service shows its resources to the outside, once for all: the bodies of the HTTP API and
the `data` of the events it publishes are these values.

Each shape is a TypedDict, the one source of truth: mypy holds each function below to its shape,
and the API documents its responses from the same TypedDicts (entrypoints/api/schemas/rendering.py),
so a field can't be rendered without being documented, nor documented without being rendered.
`Annotated` adds what the documentation shows beyond the type: a format, an example.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypedDict

from shop.domain.orders import Order
from shop.domain.products import Product
from shop.domain.users import User

DateTime = Annotated[str, "date-time"]  # ISO 8601, with its offset
MoneyAmount = Annotated[str, "example:10.00"]  # exact, with the decimals of the resource's currency (ISO 4217)
CurrencyCode = Annotated[str, "example:TWD"]


class ProductView(TypedDict):
    id: int
    name: str
    price: MoneyAmount
    currency: CurrencyCode
    stock: int


class OrderLineView(TypedDict):
    product: int
    name: str
    unit_price: str
    quantity: int
    line_total: str


class OrderView(TypedDict):
    id: int
    user: int
    status: Literal["placed", "cancelled", "fulfilled"]
    items: list[OrderLineView]
    total: str
    currency: str
    created_at: DateTime
    updated_at: DateTime
    cancelled_at: DateTime | None
    fulfilled_at: DateTime | None


class UserView(TypedDict):
    """An account as its owner and the managers see it."""

    id: int
    username: str
    email: str | None
    age: int | None
    phone: str | None
    role: Literal["customer", "manager"]
    active: bool  # false once the account is closed: only managers still see it


class UserSummary(TypedDict):
    """An account as everyone else may see it: no contact details, no credentials."""

    id: int
    username: str


def product(product: Product) -> ProductView:
    assert product.id is not None
    return {
        "id": product.id,
        "name": product.name,
        "price": product.price.amount_text,
        "currency": product.price.currency,
        "stock": product.stock,
    }


def order(order: Order) -> OrderView:
    assert order.id is not None
    assert order.updated_at is not None
    return {
        "id": order.id,
        "user": order.user_id,
        "status": order.status.value,
        "items": [
            {
                "product": line.product_id,
                "name": line.name,
                "unit_price": line.unit_price.amount_text,
                "quantity": line.quantity,
                "line_total": line.total.amount_text,
            }
            for line in order.lines
        ],
        "total": order.total.amount_text,
        "currency": order.currency,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
        "cancelled_at": _iso(order.cancelled_at),
        "fulfilled_at": _iso(order.fulfilled_at),
    }


def user(user: User) -> UserView:
    assert user.id is not None
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "age": user.age,
        "phone": user.phone,
        "role": user.role.value,
        "active": user.active,
    }


def user_summary(user: User) -> UserSummary:
    assert user.id is not None
    return {"id": user.id, "username": user.username}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
