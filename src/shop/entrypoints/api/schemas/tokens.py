"""Logging in, rotating, verifying and revoking tokens."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from shop.domain.users import USERNAME_MAX
from shop.entrypoints.api.schemas.common import StrictSchema, text

TOKEN_MAX = 4096  # a JWT of ours is a few hundred characters


class LoginSchema(StrictSchema):
    # Only lengths and control characters here: whatever else a client types is looked up, and an unknown
    # name fails like a bad password. A password is only verified.
    username = text("username", USERNAME_MAX, required=True)
    password = fields.String(required=True, validate=validate.Length(1, 1024), load_only=True)


class TokenPairSchema(ma.Schema):
    access = fields.String(required=True)
    refresh = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds the access token is valid for.", "example": 900}
    )


class RefreshSchema(StrictSchema):
    refresh = fields.String(required=True, validate=validate.Length(1, TOKEN_MAX))


class VerifySchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(1, TOKEN_MAX))
