"""The Idempotency-Key header: validated here, honoured by the place_order use case."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from flask import request

from shop.domain.errors import InvalidValue

HEADER = "Idempotency-Key"
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]{1,255}")

IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "Makes a retry safe: the same key and body from the same user within 24 hours replays "
    "the first response (with Idempotent-Replayed: true) instead of ordering again.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
}
REPLAYED_HEADER = {
    "description": "true when this response is the replay of an earlier request with the same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}


def idempotency_key() -> str | None:
    """The request's key, None when it has none; 400 when it is not 1-255 printable ASCII characters."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _PRINTABLE_ASCII.fullmatch(key):
        raise InvalidValue.single(HEADER, "Must be 1 to 255 printable ASCII characters.")
    return key


def fingerprint(body: Any) -> str:
    """What makes two requests "the same": their parsed body, whatever its spacing or key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
