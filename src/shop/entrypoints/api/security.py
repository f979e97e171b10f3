"""JWT handling. flask-jwt-extended issues the tokens; each request's bearer token is decoded once
with PyJWT (HS256 only: `alg: none` and every other algorithm are refused), its claims read once, and
then its standing checked (application/views.py: the cache, else the database): user still active,
token version current, token and its family not revoked.

flask-jwt-extended's own request check decodes every token four times (unverified claims and
header for its key loader, then the real decode), which cost more than the database check; see
docs/decisions.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, Literal, TypedDict, TypeVar

import jwt
from dependency_injector.wiring import Provide, inject
from flask import Flask, current_app, g, request
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token

from shop.application import auth
from shop.application.actors import Actor, TokenClaims
from shop.application.commands import TokenStanding
from shop.application.errors import AuthenticationFailed
from shop.application.messagebus import MessageBus
from shop.application.reads import READER
from shop.container import Container

F = TypeVar("F", bound=Callable[..., Any])

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
ALGORITHM = "HS256"
INVALID = "Token is invalid or has been revoked."
MISSING = "Authentication credentials were not provided: send Authorization: Bearer <access>."
WRONG_SCHEME = "Use the Bearer scheme: Authorization: Bearer <access token>."
_REQUIRED = ["exp", "iat", "sub", "jti", "type", "ver", "fam"]


@dataclass(frozen=True, slots=True)
class Token:
    """A decoded token: its claims, read once, its type and expiry."""

    claims: TokenClaims
    type: str
    expires_at: datetime


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


def decode(token: str, token_type: str) -> Token:
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
        claims = TokenClaims(
            user_id=int(payload["sub"]),
            token_version=int(payload["ver"]),
            jti=str(payload["jti"]),
            family=str(payload["fam"]),
        )
        expires_at = datetime.fromtimestamp(payload["exp"], UTC)
    except (TypeError, ValueError, OverflowError):
        raise AuthenticationFailed(INVALID) from None
    return Token(claims, token_type, expires_at)


def bearer_token() -> Token | None:
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
def _authenticate(token: Token, bus: MessageBus = Provide[Container.bus]) -> Actor:
    actor = bus.handle(TokenStanding(token.claims))
    g.actor = actor
    READER.set(actor.user_id)
    return actor


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor


def current_token() -> TokenClaims:
    """The claims of the request's access token (a view judges their standing itself)."""
    claims: TokenClaims = g.token
    return claims


def admitted(actor: Actor) -> Actor:
    """A view judged the token: the actor it let in."""
    g.actor = actor
    return actor


def optional_actor() -> Actor | None:
    """The actor when a bearer token came with the request (it must be valid), None when none came."""
    token = bearer_token()
    return _authenticate(token) if token is not None else None


def login_required(view: F, *, judged_by_view: bool = False) -> F:
    """judged_by_view: the view reads the token's standing with its data (one round trip to the
    cache) and tells it by admitted(); a view that forgets fails closed."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        if token is None:
            raise AuthenticationFailed(MISSING)
        if not judged_by_view:
            _authenticate(token)
            return view(*args, **kwargs)
        g.token = token.claims
        READER.set(token.claims.user_id)  # its view's lagging reads see this user's own writes
        try:
            answer = view(*args, **kwargs)
        except Exception:
            if "actor" not in g:  # refused before judging (a 400, a 404): a refused token is told first
                _authenticate(token)
            raise
        if "actor" not in g:
            raise RuntimeError(f"{view.__name__} answered without judging the token")
        return answer

    return wrapper  # type: ignore[return-value]


def init_jwt(app: Flask) -> JWTManager:
    """flask-jwt-extended creates the tokens, with the algorithm and lifetimes set in app.config."""
    return JWTManager(app)
