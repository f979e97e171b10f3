"""Accounts."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from shop.application import representations
from shop.application.representations import UserView
from shop.domain.text import PASSWORD_PATTERN
from shop.domain.users import (
    AGE_MAX,
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    PHONE_PATTERN,
    USERNAME_MAX,
    USERNAME_PATTERN,
    Role,
    check_age,
    check_email,
    check_phone,
    check_username,
)
from shop.entrypoints.api.schemas.common import JsonBoolean, PartialUpdateSchema, StrictSchema, integer, rule, text
from shop.entrypoints.api.schemas.rendering import rendered


def _username(**kwargs: Any) -> fields.String:
    documented = {
        "minLength": 1,
        "maxLength": USERNAME_MAX,
        "pattern": USERNAME_PATTERN,
        "description": "Letters and digits of any script, and @ . + - _: `\\w` is Unicode's, as in Python and "
        "Django. Stored in NFKC with invisible characters removed; unique whatever its case.",
    }
    return fields.String(validate=rule(check_username), metadata=documented, **kwargs)


def _new_password(**kwargs: Any) -> fields.String:
    """Checked by the use case: the policy needs the username too (a password may not be it)."""
    documented = {
        "minLength": PASSWORD_MIN,
        "maxLength": PASSWORD_MAX,
        "pattern": PASSWORD_PATTERN,
        "description": f"{PASSWORD_MIN} to {PASSWORD_MAX} characters, not only digits, not the username, "
        "no control characters.",
    }
    return fields.String(load_only=True, metadata=documented, **kwargs)


def _email(**kwargs: Any) -> fields.String:
    return fields.String(validate=rule(check_email), metadata={"format": "email", "maxLength": EMAIL_MAX}, **kwargs)


def _phone(**kwargs: Any) -> fields.String:
    return fields.String(validate=rule(check_phone), metadata={"pattern": PHONE_PATTERN}, **kwargs)


class UserCreateSchema(StrictSchema):
    username = _username(required=True)
    password = _new_password(required=True)
    email = _email(load_default=None, allow_none=True)
    age = integer(0, AGE_MAX, check_age, load_default=None, allow_none=True)
    phone = _phone(load_default=None, allow_none=True)
    is_manager = JsonBoolean(load_default=False)


class UserUpdateSchema(PartialUpdateSchema):
    """null clears a contact field; a field left out keeps its value."""

    username = _username()
    password = _new_password()
    email = _email(allow_none=True)
    age = integer(0, AGE_MAX, check_age, allow_none=True)
    phone = _phone(allow_none=True)


class UserFilterSchema(StrictSchema):
    q = text(
        "q",
        USERNAME_MAX,
        metadata={"description": "Only accounts whose username contains this text, whatever its case."},
    )
    active = fields.Boolean(
        load_default=True,
        metadata={"description": "false: the closed accounts instead of the active ones."},
    )
    role = fields.Enum(Role, by_value=True, metadata={"description": "Only customers, or only managers."})


UserSchema = rendered(UserView, representations.user)
