"""How the service shows its resources to the outside: the bodies of the HTTP API and the `data` of
the events it publishes are the same plain values, built here once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shop.domain.orders import Order
from shop.domain.products import Product
from shop.domain.users import User


def product(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "price": f"{product.price.amount:.2f}",
        "currency": product.price.currency,
        "stock": product.stock,
    }


def order(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "user": order.user_id,
        "status": order.status.value,
        "items": [
            {
                "product": line.product_id,
                "name": line.name,
                "unit_price": f"{line.unit_price.amount:.2f}",
                "quantity": line.quantity,
                "line_total": f"{line.total.amount:.2f}",
            }
            for line in order.lines
        ],
        "total": f"{order.total.amount:.2f}",
        "currency": order.currency,
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
        "cancelled_at": _iso(order.cancelled_at),
        "fulfilled_at": _iso(order.fulfilled_at),
    }


def user(user: User) -> dict[str, Any]:
    """An account as its owner and the managers see it."""
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "age": user.age,
        "phone": user.phone,
        "role": user.role.value,
    }


def user_summary(user: User) -> dict[str, Any]:
    """An account as everyone else may see it: no contact details, no credentials."""
    return {"id": user.id, "username": user.username}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
