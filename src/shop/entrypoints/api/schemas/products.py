"""The catalog."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from shop.application import representations
from shop.application.ports.products import PRODUCT_SORT_KEYS
from shop.application.representations import ProductView
from shop.domain.errors import InvalidValue
from shop.domain.money import ISO_4217, MAX_PLACES, parse_amount
from shop.domain.products import NAME_MAX, STOCK_MAX, check_stock
from shop.domain.text import TEXT_PATTERN, check_text
from shop.entrypoints.api.schemas.common import PartialUpdateSchema, StrictSchema, rule, text
from shop.entrypoints.api.schemas.rendering import rendered

_AMOUNT = {
    "type": "string",
    "pattern": r"^\d{1,8}(\.\d{1,3})?$",
    "example": "10.00",
    "description": "At most the currency's decimals (ISO 4217): JPY none, USD 2, KWD 3.",
}


class Price(fields.Field[object]):
    """A price as a client sends it, a JSON string or number, passed on as sent: Product.create and
    change read it, once (Money.parse). Only its shape is checked here. A JSON number arrives as an
    int or, exactly as written, a Decimal (api/jsonfast.py): never a float, which would round it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update(_AMOUNT)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> object:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal) or len(str(value)) > 32:
            raise ma.ValidationError("Must be a decimal number, as a string or a number.")
        return value


class PriceFilter(Price):
    """A price in a query: read here, by the domain's own parse, since no entity will read it. It has
    no currency: up to the most decimals any currency has."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return parse_amount(super()._deserialize(value, attr, data, **kwargs), places=MAX_PLACES)
        except InvalidValue as error:
            raise ma.ValidationError([m for messages in error.errors.values() for m in messages]) from None


# A product's body: its shape here, its rules in Product.create and Product.change, which tell
# every problem of a request at once and read the price once. The limits documented come from there.


def _name(**kwargs: Any) -> fields.String:
    documented = {"minLength": 1, "maxLength": NAME_MAX, "pattern": TEXT_PATTERN}
    return fields.String(metadata=documented, **kwargs)


def _currency(**kwargs: Any) -> fields.String:
    return fields.String(metadata={"enum": sorted(ISO_4217)}, **kwargs)


def _stock(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, metadata={"minimum": 0, "maximum": STOCK_MAX}, **kwargs)


class ProductCreateSchema(StrictSchema):
    name = _name(required=True)
    price = Price(required=True)
    stock = _stock(required=True)
    currency = _currency(load_default="TWD")


class ProductUpdateSchema(PartialUpdateSchema):
    name = _name()
    price = Price()
    stock = _stock()
    currency = _currency()


ProductSchema = rendered(ProductView, representations.product)

_SORT_KEY = f"-?({'|'.join(sorted(PRODUCT_SORT_KEYS))})"


class ProductFilterSchema(StrictSchema):
    price = PriceFilter()
    stock = fields.Integer(validate=rule(check_stock), metadata={"minimum": 0, "maximum": STOCK_MAX})
    min_price = PriceFilter()
    max_price = PriceFilter()
    in_stock = fields.Boolean()
    q = text("q", NAME_MAX)
    sort = fields.String(
        validate=[
            rule(lambda sort: check_text(sort, "sort")),  # "$" of the pattern would take a final line break
            validate.Regexp(
                rf"^{_SORT_KEY}(,{_SORT_KEY})*$",
                error=f"Comma-separated keys among {', '.join(sorted(PRODUCT_SORT_KEYS))}, '-' first for descending.",
            ),
        ],
        metadata={"example": "-price,name"},
    )
