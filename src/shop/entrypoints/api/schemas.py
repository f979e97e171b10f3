"""Request and response bodies. Input limits here keep hostile values away from the database."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from shop.application import representations
from shop.application.ports import PRODUCT_SORT_KEYS
from shop.domain.errors import InvalidValue
from shop.domain.money import ISO_4217, parse_amount
from shop.domain.orders import ITEMS_MAX, QUANTITY_MAX, OrderStatus
from shop.domain.products import NAME_MAX, STOCK_MAX
from shop.domain.users import PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, Role

ID_MAX = 2_147_483_647


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class RenderedSchema(ma.Schema):
    """A response body: the fields document it, `render` (shop.application.representations) builds it.

    Hot paths serialize hundreds of objects a second; one plain function per resource is several
    times cheaper than marshmallow's per-field machinery. The API and schemathesis tests check that
    every rendered body matches the documented fields.
    """

    render: Callable[[Any], dict[str, Any]]

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        if self.many if many is None else many:
            return [self.render(item) for item in obj]
        return self.render(obj)


class JsonBoolean(fields.Boolean):
    """true or false, nothing else: marshmallow would also take 0, 1, "yes" and "on" (0 == False in Python)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PartialUpdateSchema(StrictSchema):
    """A partial update: any subset of the fields, but at least one (documented as minProperties: 1)."""


def _username(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[
            validate.Length(1, USERNAME_MAX),
            validate.Regexp(r"^[A-Za-z0-9_.@+-]+$", error="Letters, digits and @ . + - _ only."),
        ],
        **kwargs,
    )


class Amount(fields.Field[Decimal]):
    """A price: accepted as a JSON string or number, at most 2 decimals, always returned as "10.00"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).update(
            {"type": "string", "pattern": r"^\d{1,8}(\.\d{1,2})?$", "example": "10.00"}
        )
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{value:.2f}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float) or len(str(value)) > 32:
            raise ma.ValidationError("Must be a decimal number, as a string or a number.")
        try:
            return parse_amount(str(value) if isinstance(value, float) else value)
        except InvalidValue as error:
            raise ma.ValidationError([m for messages in error.errors.values() for m in messages]) from None


def _int(minimum: int, maximum: int, **kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(minimum, maximum), **kwargs)


def _new_password(**kwargs: Any) -> fields.String:
    """The password policy as far as a schema can say it; the domain also refuses the username itself."""
    return fields.String(
        validate=validate.Length(PASSWORD_MIN, PASSWORD_MAX),
        load_only=True,
        metadata={"pattern": r"\D", "description": "8 to 128 characters, not only digits, not the username."},
        **kwargs,
    )


# Auth


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(1, USERNAME_MAX))
    password = fields.String(required=True, validate=validate.Length(1, 1024), load_only=True)


class TokenPairSchema(ma.Schema):
    access = fields.String(required=True)
    refresh = fields.String(required=True)


class RefreshSchema(StrictSchema):
    refresh = fields.String(required=True, validate=validate.Length(1, 4096))


class VerifySchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(1, 4096))


class EmptySchema(ma.Schema):
    pass


# Users


class UserCreateSchema(StrictSchema):
    username = _username(required=True)
    password = _new_password(required=True)
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    age = _int(0, 150, load_default=None, allow_none=True)
    phone = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\+?[0-9 ()-]{3,32}$", error="Digits, spaces, ( ) - and a leading +, 3 to 32."),
    )
    is_manager = JsonBoolean(load_default=False)


class UserUpdateSchema(PartialUpdateSchema):
    username = _username()
    password = _new_password()
    email = fields.Email(validate=validate.Length(max=254))
    age = _int(0, 150)
    phone = fields.String(
        validate=validate.Regexp(r"^\+?[0-9 ()-]{3,32}$", error="Digits, spaces, ( ) - and a leading +.")
    )


class UserSchema(RenderedSchema):
    id = fields.Integer()
    username = fields.String()
    email = fields.String(allow_none=True)
    age = fields.Integer(allow_none=True)
    phone = fields.String(allow_none=True)
    role = fields.String(metadata={"enum": [role.value for role in Role]})

    render = staticmethod(representations.user)


# Products

_currency = validate.OneOf(sorted(ISO_4217), error="Must be an ISO 4217 currency code such as TWD or USD.")


class ProductCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, NAME_MAX))
    price = Amount(required=True)
    stock = _int(0, STOCK_MAX, required=True)
    currency = fields.String(load_default="TWD", validate=_currency)


class ProductUpdateSchema(PartialUpdateSchema):
    name = fields.String(validate=validate.Length(1, NAME_MAX))
    price = Amount()
    stock = _int(0, STOCK_MAX)
    currency = fields.String(validate=_currency)


class ProductSchema(RenderedSchema):
    id = fields.Integer()
    name = fields.String()
    price = fields.String(metadata={"example": "10.00"})
    currency = fields.String(metadata={"example": "TWD"})
    stock = fields.Integer()

    render = staticmethod(representations.product)


class ProductFilterSchema(StrictSchema):
    price = Amount()
    stock = fields.Integer(validate=validate.Range(0, STOCK_MAX))
    min_price = Amount()
    max_price = Amount()
    in_stock = fields.Boolean()
    q = fields.String(validate=validate.Length(1, NAME_MAX))
    sort = fields.String(
        validate=validate.Regexp(
            rf"^-?({'|'.join(sorted(PRODUCT_SORT_KEYS))})(,-?({'|'.join(sorted(PRODUCT_SORT_KEYS))}))*$",
            error=f"Comma-separated keys among {', '.join(sorted(PRODUCT_SORT_KEYS))}, '-' first for descending.",
        ),
        metadata={"example": "-price,name"},
    )


# Orders


class OrderItemSchema(StrictSchema):
    product = _int(1, ID_MAX, required=True)
    quantity = _int(1, QUANTITY_MAX, required=True)


class OrderCreateSchema(StrictSchema):
    items = fields.List(
        fields.Nested(OrderItemSchema),
        required=True,
        validate=validate.Length(1, ITEMS_MAX, error=f"An order holds 1 to {ITEMS_MAX} items."),
    )


class OrderLineSchema(ma.Schema):
    product = fields.Integer()
    name = fields.String()
    unit_price = fields.String()
    quantity = fields.Integer()
    line_total = fields.String()


class OrderSchema(RenderedSchema):
    id = fields.Integer()
    user = fields.Integer()
    status = fields.String(metadata={"enum": [s.value for s in OrderStatus]})
    items = fields.List(fields.Nested(OrderLineSchema))
    total = fields.String()
    currency = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    cancelled_at = fields.DateTime(allow_none=True)
    fulfilled_at = fields.DateTime(allow_none=True)

    render = staticmethod(representations.order)


class OrderFilterSchema(StrictSchema):
    status = fields.String(validate=validate.OneOf([s.value for s in OrderStatus]))


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, the body of every error response."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), metadata={"description": "Field -> messages"}
    )
    request_id = fields.String()
