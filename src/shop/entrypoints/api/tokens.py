from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView

from shop.application.auth import Session
from shop.application.errors import AuthenticationFailed
from shop.container import Container
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.schemas.common import EmptySchema
from shop.entrypoints.api.schemas.tokens import LoginSchema, RefreshSchema, TokenPairSchema, VerifySchema
from shop.entrypoints.api.security import TokenPair, bearer_payload, claims_of, decode, issue_tokens

blp = Blueprint("tokens", __name__, url_prefix="/api/token", description="Obtain, rotate, verify and revoke JWTs.")


@blp.route("/")
class Obtain(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.errors(401, 429)
    @inject
    def post(
        self, body: dict[str, Any], login: Callable[..., Session] = Provide[Container.login.provider]
    ) -> TokenPair:
        """Log in: exchange a username and password for an access and a refresh token."""
        return issue_tokens(login(**body))


@blp.route("/refresh/")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.errors(401, 429)
    @inject
    def post(
        self, body: dict[str, Any], refresh: Callable[..., Session] = Provide[Container.refresh.provider]
    ) -> TokenPair:
        """Rotate a refresh token: the old one stops working; using it again revokes its whole family."""
        return issue_tokens(refresh(claims=claims_of(decode(body["refresh"], "refresh"))))


@blp.route("/verify/")
class Verify(MethodView):
    @blp.arguments(VerifySchema)
    @blp.response(200, EmptySchema)
    @blp.errors(401)
    @inject
    def post(
        self, body: dict[str, Any], verify: Callable[..., None] = Provide[Container.verify.provider]
    ) -> dict[str, Any]:
        """Check that a token is genuine, unexpired and not revoked (a rotated refresh token is not valid)."""
        payload = decode_any(body["token"])
        verify(claims=claims_of(payload), is_refresh=payload["type"] == "refresh")
        return {}


@blp.route("/revoke/")
class Revoke(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(204)
    @blp.errors(401)
    @inject
    def post(self, body: dict[str, Any], revoke: Callable[..., None] = Provide[Container.revoke.provider]) -> None:
        """Log out: revoke the refresh token's family and the access token sent with it, if any."""
        refresh = claims_of(decode(body["refresh"], "refresh"))
        access = bearer_payload()
        revoke(
            refresh=refresh,
            access=claims_of(access) if access else None,
            access_expires_at=datetime.fromtimestamp(access["exp"], UTC) if access else None,
        )


def decode_any(token: str) -> dict[str, Any]:
    try:
        return decode(token, "access")
    except AuthenticationFailed:
        return decode(token, "refresh")
