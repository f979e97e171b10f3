"""Orders."""

from __future__ import annotations

from marshmallow import fields, validate

from shop.application import representations
from shop.application.ports.orders import NEWEST_FIRST, ORDER_SORT_KEYS
from shop.application.representations import OrderView
from shop.domain.orders import ITEMS_MAX, QUANTITY_MAX, OrderStatus, check_item_count, check_quantity
from shop.domain.text import check_text
from shop.domain.users import USERNAME_MAX
from shop.entrypoints.api.schemas.common import ID_MAX, StrictSchema, integer, rule, text
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


_SORT_KEY = f"-?({'|'.join(sorted(ORDER_SORT_KEYS))})"


class OrderFilterSchema(StrictSchema):
    status = fields.String(validate=validate.OneOf([s.value for s in OrderStatus]))
    sort = fields.String(
        load_default=",".join(NEWEST_FIRST),
        validate=[
            rule(lambda sort: check_text(sort, "sort")),  # "$" of the pattern would take a final line break
            validate.Regexp(
                rf"^{_SORT_KEY}(,{_SORT_KEY})*$",
                error=f"Comma-separated keys among {', '.join(sorted(ORDER_SORT_KEYS))}, '-' first for descending.",
            ),
        ],
        metadata={
            "description": "Comma-separated keys, '-' first for descending; by default newest first. Ties go by "
            "id, in the direction of the last key. status sorts alphabetically, total by amount.",
            "example": "-total,created_at",
        },
    )
    customer = text(
        "customer",
        USERNAME_MAX,
        metadata={
            "description": "Managers only (a customer gets 403): the orders of the account with this username, "
            "whatever its case, closed or not; none when there is no such account."
        },
    )
