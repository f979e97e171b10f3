"""Orders."""

from __future__ import annotations

from marshmallow import fields, validate

from shop.application import representations
from shop.application.representations import OrderView
from shop.domain.orders import ITEMS_MAX, QUANTITY_MAX, OrderStatus, check_item_count, check_quantity
from shop.entrypoints.api.schemas.common import ID_MAX, StrictSchema, integer, rule
from shop.entrypoints.api.schemas.rendering import rendered


class OrderItemSchema(StrictSchema):
    product = integer(1, ID_MAX, required=True)
    quantity = integer(1, QUANTITY_MAX, check_quantity, required=True)


class OrderCreateSchema(StrictSchema):
    items = fields.List(
        fields.Nested(OrderItemSchema),
        required=True,
        validate=rule(lambda items: check_item_count(len(items))),
        metadata={"minItems": 1, "maxItems": ITEMS_MAX},
    )


OrderSchema = rendered(OrderView, representations.order)


class OrderFilterSchema(StrictSchema):
    status = fields.String(validate=validate.OneOf([s.value for s in OrderStatus]))
