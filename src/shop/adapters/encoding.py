"""JSON encoding of what the application renders: a Rendered value is encoded once, and every writer
of it (the idempotency record, the outbox, the response) sends those same bytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from shop.application.messages import Message, envelope
from shop.application.representations import Rendered


def encoded(data: Mapping[str, Any]) -> bytes:
    if not isinstance(data, Rendered):
        return orjson.dumps(data)
    if data.json is None:
        data.json = orjson.dumps(data)
    return data.json


def decoded(body: bytes) -> Rendered:
    """A representation stored as JSON, keeping its bytes: a replay answers them as they were."""
    return Rendered(orjson.loads(body), json=body)


def body_of(message: Message, event_id: str) -> bytes:
    """A message's body as the outbox keeps it; its data is the bytes of its representation."""
    return orjson.dumps({**envelope(message, event_id), "data": orjson.Fragment(encoded(message.data))})
