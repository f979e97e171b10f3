"""What every resource's schemas share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from shop.domain.errors import InvalidValue
from shop.domain.text import TEXT_PATTERN, check_text

ID_MAX = 2_147_483_647  # ids are 32-bit: anything larger is no id of ours


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class PartialUpdateSchema(StrictSchema):
    """A partial update: any subset of the fields, but at least one (documented as minProperties: 1)."""


class JsonBoolean(fields.Boolean):
    """true or false, nothing else: marshmallow would also take 0, 1, "yes" and "on" (0 == False in Python)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def rule(check: Callable[[Any], object]) -> Callable[[Any], None]:
    """A validator that asks the domain, so the API answers in the domain's words."""

    def validate_with_the_domain(value: Any) -> None:
        try:
            check(value)
        except InvalidValue as error:
            raise ma.ValidationError([m for messages in error.errors.values() for m in messages]) from None

    return validate_with_the_domain


def text(field: str, maximum: int, **kwargs: Any) -> fields.String:
    """A string searched or looked up (not stored): 1 to maximum characters, no control characters
    (shop.domain.text, documented as its pattern)."""
    kwargs.setdefault("metadata", {}).update({"pattern": TEXT_PATTERN})
    checks: list[Callable[[Any], Any]] = [validate.Length(1, maximum), rule(lambda value: check_text(value, field))]
    return fields.String(validate=checks, **kwargs)


def integer(minimum: int, maximum: int, check: Callable[[Any], object] | None = None, **kwargs: Any) -> fields.Integer:
    """A JSON integer (never a string), within bounds the domain checks when it has a rule for them."""
    if check is None:
        return fields.Integer(strict=True, validate=validate.Range(minimum, maximum), **kwargs)
    kwargs.setdefault("metadata", {}).update({"minimum": minimum, "maximum": maximum})
    return fields.Integer(strict=True, validate=rule(check), **kwargs)


class EmptySchema(ma.Schema):
    pass


class ShortageSchema(ma.Schema):
    product = fields.Integer()
    name = fields.String()
    requested = fields.Integer()
    available = fields.Integer()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, the body of every error response (built by api/problems.py)."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(
        keys=fields.String(), values=fields.List(fields.String()), metadata={"description": "Field -> messages"}
    )
    request_id = fields.String()
    # Extension members (RFC 9457, section 3.2) of the problem types that have them.
    shortages = fields.List(
        fields.Nested(ShortageSchema),
        metadata={"description": "urn:shop:problem:insufficient-stock: every line the stock can't cover"},
    )
    current_status = fields.String(
        metadata={"description": "urn:shop:problem:invalid-transition: the order's status, which stays"}
    )
