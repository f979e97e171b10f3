"""JSON in and out with orjson: several times faster than the standard library, and strict.

`read_json` is the one reader of every request body: Flask's (`request.get_json`) and the schemas'
(`blueprint.Parser`). It takes plain JSON only: no NaN or Infinity, no number beyond a double, no
integer beyond 64 bits, no lone surrogate, valid UTF-8, no nesting deeper than MAX_DEPTH, and no NUL
character in a string (PostgreSQL's text can't hold one, and no field of the API needs it).
Numbers with a fraction or an exponent arrive as Decimal, exactly as written, never as a float: a
price of 1.999999999999999999999 must be refused, not rounded to 2.0 on the way in.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32  # no body of this API nests deeper than 4
INT_MIN, INT_MAX = -(2**63), 2**64 - 1  # orjson's own integers: beyond them it would make a float


NUL_REFUSED = "Text must not contain the NUL character (U+0000)."


class InvalidJson(ValueError):
    """A body this service does not read as JSON; the message says what and where, `field` which
    member it is about ("items.0.name"; "body" for the body as a whole or a member's name)."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


def read_json(data: bytes | str) -> Any:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        if error.msg == "depth limit exceeded":
            raise _too_deep() from None
        if error.msg == "number is infinity when parsed as double":
            raise InvalidJson(f"Number out of range ({where}): larger than a double can hold.") from None
        raise InvalidJson(f"Not valid JSON: {error.msg} ({where}).") from None
    if _checked(value):
        text = data.decode() if isinstance(data, bytes) else data  # valid UTF-8: orjson read it
        return json.loads(text, parse_float=Decimal, parse_int=_integer, parse_constant=_not_json)
    return value


def _checked(value: Any) -> bool:
    """Refuses nesting deeper than MAX_DEPTH and NUL characters, naming the member that holds one
    (walked without recursion); True when a float stands for a number with a fraction or an
    exponent, or an integer orjson could not hold."""
    fractions = False
    pending: list[tuple[Any, int, str]] = [(value, 0, "")]
    while pending:
        item, depth, path = pending.pop()
        if isinstance(item, dict | list):
            if depth == MAX_DEPTH:
                raise _too_deep()
            if isinstance(item, dict):
                pending.extend((key, depth, "") for key in item)
                pending.extend((child, depth + 1, _member(path, key)) for key, child in item.items())
            else:
                pending.extend((child, depth + 1, _member(path, index)) for index, child in enumerate(item))
        elif isinstance(item, float):
            fractions = True
        elif isinstance(item, str) and "\x00" in item:
            raise InvalidJson(NUL_REFUSED, path or "body")
    return fractions


def _member(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _integer(text: str) -> int:
    if len(text) > 21 or not INT_MIN <= int(text) <= INT_MAX:
        raise InvalidJson(f"Number out of range: integers must lie between {INT_MIN} and {INT_MAX}.")
    return int(text)


def _not_json(name: str) -> Any:
    raise InvalidJson(f"Not valid JSON: {name} is not a JSON number.")


def _too_deep() -> InvalidJson:
    return InvalidJson(f"Nested deeper than {MAX_DEPTH} levels of objects and arrays.")


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=self.default, option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return read_json(s)
