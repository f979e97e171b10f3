from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView

from shop.application import commands
from shop.application.errors import AuthenticationFailed
from shop.application.messagebus import MessageBus
from shop.container import Container
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.schemas.common import EmptySchema
from shop.entrypoints.api.schemas.tokens import LoginSchema, RefreshSchema, TokenPairSchema, VerifySchema
from shop.entrypoints.api.security import Token, TokenPair, bearer_token, decode, issue_tokens

blp = Blueprint("tokens", __name__, url_prefix="/api/token", description="Obtain, rotate, verify and revoke JWTs.")


@blp.route("/")
class Obtain(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.errors(401, 429)
    @inject
    def post(self, body: dict[str, Any], bus: MessageBus = Provide[Container.bus]) -> TokenPair:
        """Log in: exchange a username and password for an access and a refresh token."""
        return issue_tokens(bus.handle(commands.Login(**body)))


@blp.route("/refresh/")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.errors(401, 429)
    @inject
    def post(self, body: dict[str, Any], bus: MessageBus = Provide[Container.bus]) -> TokenPair:
        """Rotate a refresh token: the old one stops working; using it again revokes its whole family."""
        return issue_tokens(bus.handle(commands.Refresh(decode(body["refresh"], "refresh").claims)))


@blp.route("/verify/")
class Verify(MethodView):
    @blp.arguments(VerifySchema)
    @blp.response(200, EmptySchema)
    @blp.errors(401)
    @inject
    def post(self, body: dict[str, Any], bus: MessageBus = Provide[Container.bus]) -> dict[str, Any]:
        """Check that a token is genuine, unexpired and not revoked (a rotated refresh token is not valid)."""
        token = decode_any(body["token"])
        bus.handle(commands.Verify(token.claims, is_refresh=token.type == "refresh"))
        return {}


@blp.route("/revoke/")
class Revoke(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(204)
    @blp.errors(401)
    @inject
    def post(self, body: dict[str, Any], bus: MessageBus = Provide[Container.bus]) -> None:
        """Log out: revoke the refresh token's family and the access token sent with it, if any."""
        refresh = decode(body["refresh"], "refresh").claims
        access = bearer_token()
        bus.handle(
            commands.Revoke(
                refresh=refresh,
                access=access.claims if access else None,
                access_expires_at=access.expires_at if access else None,
            )
        )


def decode_any(token: str) -> Token:
    try:
        return decode(token, "access")
    except AuthenticationFailed:
        return decode(token, "refresh")
