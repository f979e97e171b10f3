"""Webhook endpoints and their deliveries."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from shop.application import representations
from shop.application.messages import WEBHOOK_TYPES
from shop.application.representations import DeliveryView, WebhookSecretView, WebhookView
from shop.domain.webhooks import DESCRIPTION_MAX, EVENTS_MAX, URL_MAX
from shop.entrypoints.api.schemas.common import JsonBoolean, PartialUpdateSchema, StrictSchema
from shop.entrypoints.api.schemas.rendering import rendered

_PATTERNS = sorted(WEBHOOK_TYPES | {f"{kind.partition('.')[0]}.*" for kind in WEBHOOK_TYPES})


def _url(**kwargs: Any) -> fields.String:
    return fields.String(
        metadata={"format": "uri", "maxLength": URL_MAX, "example": "https://erp.example.com/hooks/shop"},
        **kwargs,
    )


def _events(**kwargs: Any) -> fields.List[str]:
    return fields.List(
        fields.String(metadata={"enum": _PATTERNS}),
        metadata={"minItems": 1, "maxItems": EVENTS_MAX, "example": ["order.*", "product.deleted"]},
        **kwargs,
    )


def _description(**kwargs: Any) -> fields.String:
    return fields.String(metadata={"maxLength": DESCRIPTION_MAX}, **kwargs)


class WebhookCreateSchema(StrictSchema):
    url = _url(required=True)
    events = _events(required=True)
    description = _description(load_default="")


class WebhookUpdateSchema(PartialUpdateSchema):
    url = _url()
    events = _events()
    description = _description()
    enabled = JsonBoolean()


WebhookSchema = rendered(WebhookView, representations.webhook)
WebhookSecretSchema = rendered(WebhookSecretView, representations.webhook_with_secret)
DeliverySchema = rendered(DeliveryView, representations.delivery)
