"""JWT handling. flask-jwt-extended issues the tokens; each request's bearer token is decoded once
with PyJWT (HS256 only: `alg: none` and every other algorithm are refused) and then checked against
the database: user still active, token version current, token and its family not revoked.

flask-jwt-extended's own request check decodes every token four times (unverified claims and
header for its key loader, then the real decode), which cost more than the database check; see
docs/decisions.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, Literal, TypedDict, TypeVar

import jwt
from dependency_injector.wiring import Provide, inject
from flask import Flask, current_app, g, request
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token

from shop.application import auth
from shop.application.actors import Actor
from shop.application.errors import AuthenticationFailed
from shop.application.reads import reading_as
from shop.container import Container

F = TypeVar("F", bound=Callable[..., Any])

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
ALGORITHM = "HS256"
INVALID = "Token is invalid or has been revoked."
MISSING = "Authentication credentials were not provided: send Authorization: Bearer <access>."
WRONG_SCHEME = "Use the Bearer scheme: Authorization: Bearer <access token>."
_REQUIRED = ["exp", "iat", "sub", "jti", "type", "ver", "fam"]


def claims_of(payload: dict[str, Any]) -> auth.TokenClaims:
    return auth.TokenClaims(
        user_id=int(payload["sub"]),
        token_version=int(payload["ver"]),
        jti=str(payload["jti"]),
        family=str(payload["fam"]),
    )


class TokenPair(TypedDict):
    access: str
    refresh: str
    token_type: Literal["Bearer"]
    expires_in: int  # seconds the access token lives (RFC 6749, section 5.1)


def issue_tokens(session: auth.Session) -> TokenPair:
    """A fresh access token and the session's refresh token, both bound to the token family."""
    user, refresh = session.user, session.refresh
    claims = {"ver": user.token_version, "fam": refresh.family}
    lifetime: timedelta = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "token_type": "Bearer",
        "expires_in": int(lifetime.total_seconds()),
        "access": create_access_token(identity=str(user.id), additional_claims=claims, expires_delta=lifetime),
        "refresh": create_refresh_token(
            identity=str(user.id),
            additional_claims={**claims, "jti": refresh.jti},
            expires_delta=refresh.expires_at - datetime.now(UTC),
        ),
    }


def decode(token: str, token_type: str) -> dict[str, Any]:
    """A signed, unexpired token of the given type with every claim we rely on, or AuthenticationFailed."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token, current_app.config["JWT_SECRET_KEY"], algorithms=[ALGORITHM], options={"require": _REQUIRED}
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("Token has expired.") from None
    except jwt.PyJWTError:
        raise AuthenticationFailed(INVALID) from None
    if payload["type"] != token_type:
        raise AuthenticationFailed(INVALID)
    try:
        claims_of(payload)
    except (TypeError, ValueError):
        raise AuthenticationFailed(INVALID) from None
    return payload


def bearer_payload() -> dict[str, Any] | None:
    """The decoded access token of the request; None when it has no Authorization header."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise AuthenticationFailed(WRONG_SCHEME)
    if not token.strip():
        raise AuthenticationFailed(INVALID)
    return decode(token.strip(), "access")


@inject
def _authenticate(
    payload: dict[str, Any], check_access: Callable[..., Actor] = Provide[Container.check_access.provider]
) -> Actor:
    actor = check_access(claims=claims_of(payload))
    g.actor = actor
    reading_as(actor.user_id)
    return actor


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor


def optional_actor() -> Actor | None:
    """The actor when a bearer token came with the request (it must be valid), None when none came."""
    payload = bearer_payload()
    return _authenticate(payload) if payload is not None else None


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        payload = bearer_payload()
        if payload is None:
            raise AuthenticationFailed(MISSING)
        _authenticate(payload)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def init_jwt(app: Flask) -> JWTManager:
    """flask-jwt-extended creates the tokens, with the algorithm and lifetimes set in app.config."""
    return JWTManager(app)
