"""JWT handling: tokens are signed HS256 only, and every access token is checked against the
database on each request (user still active, token version current, token and family not revoked)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

from dependency_injector.wiring import Provide, inject
from flask import Flask, Response, g
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    decode_token,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError

from shop.application import auth
from shop.application.actors import Actor
from shop.application.errors import AuthenticationFailed
from shop.application.ports import UnitOfWork
from shop.container import Container
from shop.entrypoints.api.problems import problem

F = TypeVar("F", bound=Callable[..., Any])

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
INVALID = "Token is invalid or has been revoked."


def claims_of(payload: dict[str, Any]) -> auth.TokenClaims:
    return auth.TokenClaims(
        user_id=int(payload["sub"]),
        token_version=int(payload["ver"]),
        jti=str(payload["jti"]),
        family=str(payload["fam"]),
    )


def issue_tokens(session: auth.Session) -> dict[str, str]:
    """A fresh access token and the session's refresh token, both bound to the token family."""
    user, refresh = session.user, session.refresh
    claims = {"ver": user.token_version, "fam": refresh.family}
    return {
        "access": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh": create_refresh_token(
            identity=str(user.id),
            additional_claims={**claims, "jti": refresh.jti},
            expires_delta=refresh.expires_at - datetime.now(UTC),
        ),
    }


def decode(token: str, token_type: str) -> dict[str, Any]:
    """A signed, unexpired token of the given type, or AuthenticationFailed."""
    try:
        payload = decode_token(token)
    except (JWTExtendedException, PyJWTError, ValueError, KeyError):
        raise AuthenticationFailed(INVALID) from None
    if payload.get("type") != token_type or not {"sub", "ver", "jti", "fam"} <= payload.keys():
        raise AuthenticationFailed(INVALID)
    try:
        claims_of(payload)
    except (TypeError, ValueError):
        raise AuthenticationFailed(INVALID) from None
    return payload


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor


def optional_actor() -> Actor | None:
    """The actor when a valid bearer token came with the request, None when none came."""
    verify_jwt_in_request(optional=True)
    return getattr(g, "actor", None)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verify_jwt_in_request()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@inject
def _check(payload: dict[str, Any], uow: UnitOfWork = Provide[Container.uow]) -> Actor:
    return auth.check_access(uow=uow, claims=claims_of(payload))


def _unauthorized(detail: str) -> Response:
    return problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


def init_jwt(app: Flask) -> JWTManager:
    jwt = JWTManager(app)

    @jwt.token_in_blocklist_loader
    def _revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        if payload.get("type") != "access":
            return False  # refresh tokens are checked by the refresh use case
        try:
            g.actor = _check(payload)
        except (AuthenticationFailed, KeyError, TypeError, ValueError):
            return True
        return False

    @jwt.unauthorized_loader
    def _missing(reason: str) -> Response:
        return _unauthorized("Authentication credentials were not provided: send Authorization: Bearer <access>.")

    @jwt.invalid_token_loader
    def _invalid(reason: str) -> Response:
        return _unauthorized(INVALID)

    @jwt.expired_token_loader
    def _expired(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized("Token has expired.")

    @jwt.revoked_token_loader
    def _revoked_response(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized(INVALID)

    @jwt.token_verification_failed_loader
    def _failed(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized(INVALID)

    @jwt.user_lookup_error_loader
    def _lookup(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
        return _unauthorized(INVALID)

    return jwt
