"""Reading the console's forms: field names are the API's, and every rule is the domain's. Values go
to the use cases as typed (the domain reads a price or a count from text), so that a form hears of
all its problems at once."""

from __future__ import annotations

import hashlib
import json

from flask import request

from shop.application import representations
from shop.application.errors import AlreadyExists
from shop.domain.errors import InvalidValue
from shop.domain.products import Product

PRODUCT_FIELDS = ("name", "price", "currency", "stock")


def text(name: str) -> str:
    return request.form.get(name, "").strip()


def errors_of(error: InvalidValue | AlreadyExists) -> dict[str, list[str]]:
    if isinstance(error, AlreadyExists):
        return {error.field: [str(error)]}
    return error.errors


def version_of(product: Product) -> str:
    """What the product looks like to a client, as a digest: the console's ETag. A form carries the
    version it was filled from, and a change applies only while the stored product still has it."""
    shown = json.dumps(representations.product(product), sort_keys=True)
    return hashlib.sha256(shown.encode()).hexdigest()[:32]


def product_form(product: Product | None = None) -> dict[str, str]:
    """The values of a product form: the stored product's, or those the manager sent."""
    if request.method == "POST":
        return {name: text(name) for name in PRODUCT_FIELDS}
    if product is None:
        return {"name": "", "price": "", "currency": "TWD", "stock": "0"}
    shown = representations.product(product)  # as the API shows it: the price with its currency's decimals
    return {"name": shown["name"], "price": shown["price"], "currency": shown["currency"], "stock": str(shown["stock"])}
