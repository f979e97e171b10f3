"""A response body's bytes, exactly as Flask's JSON provider (api/jsonfast.py) would send them."""

from __future__ import annotations

from typing import Any

import orjson


def encode_body(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS) + b"\n"
