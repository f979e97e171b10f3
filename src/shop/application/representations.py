"""How the service shows its resources to the outside, once for all: the bodies of the HTTP API and
the `data` of the events it publishes are these values.

Each shape is a TypedDict, the one source of truth: mypy holds each function below to its shape,
and the API documents its responses from the same TypedDicts (entrypoints/api/schemas/rendering.py),
so a field can't be rendered without being documented, nor documented without being rendered.
`Annotated` adds what the documentation shows beyond the type: a format, an example.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict
from weakref import WeakKeyDictionary

from shop.domain.orders import Order
from shop.domain.products import Product
from shop.domain.users import User
from shop.domain.webhooks import Attempt, Delivery, WebhookEndpoint

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


class WebhookSummary(TypedDict):
    """An endpoint as its events tell it: never its secret."""

    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool


class WebhookView(TypedDict):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: Literal["manager", "gone", "failing"] | None
    secret: Annotated[str, "example:whsec_…Q0M="]  # masked: shown in full only when made
    created_at: DateTime


class WebhookSecretView(TypedDict):
    """An endpoint as it is answered when made, or its secret rotated: the one time the secret shows."""

    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: Literal["manager", "gone", "failing"] | None
    secret: Annotated[str, "example:whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
    created_at: DateTime


class AttemptView(TypedDict):
    at: DateTime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_body: str  # its first 2 KiB


class DeliveryView(TypedDict):
    id: int
    event_id: str
    event_type: str
    status: Literal["pending", "succeeded", "failed", "retrying"]
    attempts: list[AttemptView]
    next_attempt_at: DateTime | None
    created_at: DateTime


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


class Rendered(dict[str, Any]):
    """A representation rendered once and, as soon as an adapter encoded it, its JSON too
    (shop.adapters.json.encoded): the idempotency record, the outbox message and the HTTP response of
    a placed order then carry the very same bytes."""

    __slots__ = ("json", "version")

    def __init__(self, data: Mapping[str, Any], *, json: bytes | None = None, version: object = None) -> None:
        super().__init__(data)
        self.json = json
        self.version = version


_ORDERS_SHOWN: WeakKeyDictionary[Order, Rendered] = WeakKeyDictionary()


def order_once(placed: Order) -> Rendered:
    """order(), rendered once for each state of an order, whoever asks: the use case that placed it and
    the message of its event share one rendering (and so one encoding)."""
    version = (placed.id, placed.status, placed.updated_at, placed.cancelled_at, placed.fulfilled_at)
    shown = _ORDERS_SHOWN.get(placed)
    if shown is None or shown.version != version:
        shown = _ORDERS_SHOWN[placed] = Rendered(order(placed), version=version)
    return shown


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


def webhook_summary(endpoint: WebhookEndpoint) -> WebhookSummary:
    assert endpoint.id is not None
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.event_types),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
    }


def webhook(endpoint: WebhookEndpoint) -> WebhookView:
    assert endpoint.id is not None
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.event_types),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason.value if endpoint.disabled_reason else None,
        "secret": endpoint.secret.masked,
        "created_at": endpoint.created_at.isoformat(),
    }


def webhook_with_secret(endpoint: WebhookEndpoint) -> WebhookSecretView:
    return {**webhook(endpoint), "secret": endpoint.secret.encoded}


def attempt(attempt: Attempt) -> AttemptView:
    return {
        "at": attempt.at.isoformat(),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
        "response_body": attempt.response_body,
    }


def delivery(delivery: Delivery) -> DeliveryView:
    assert delivery.id is not None
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status.value,
        "attempts": [attempt(a) for a in delivery.attempts],
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "created_at": delivery.created_at.isoformat(),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
