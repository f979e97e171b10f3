from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView

from shop.application import auth
from shop.application.errors import AuthenticationFailed
from shop.application.ports import Clock, IdGenerator, PasswordHasher, UnitOfWork
from shop.container import Container
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.schemas import EmptySchema, LoginSchema, RefreshSchema, TokenPairSchema, VerifySchema
from shop.entrypoints.api.security import bearer_payload, claims_of, decode, issue_tokens

blp = Blueprint("tokens", __name__, url_prefix="/api/token", description="Obtain, rotate, verify and revoke JWTs.")


@blp.route("/")
class Obtain(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.errors(401, 429)
    @inject
    def post(
        self,
        body: dict[str, Any],
        uow: UnitOfWork = Provide[Container.uow],
        hasher: PasswordHasher = Provide[Container.hasher],
        clock: Clock = Provide[Container.clock],
        ids: IdGenerator = Provide[Container.ids],
        refresh_ttl: timedelta = Provide[Container.config.refresh_token_ttl],
    ) -> dict[str, str]:
        """Log in: exchange a username and password for an access and a refresh token."""
        session = auth.login(uow=uow, hasher=hasher, clock=clock, ids=ids, refresh_ttl=refresh_ttl, **body)
        return issue_tokens(session)


@blp.route("/refresh/")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.errors(401, 429)
    @inject
    def post(
        self,
        body: dict[str, Any],
        uow: UnitOfWork = Provide[Container.uow],
        clock: Clock = Provide[Container.clock],
        ids: IdGenerator = Provide[Container.ids],
        refresh_ttl: timedelta = Provide[Container.config.refresh_token_ttl],
    ) -> dict[str, str]:
        """Rotate a refresh token: the old one stops working; using it again revokes its whole family."""
        claims = claims_of(decode(body["refresh"], "refresh"))
        session = auth.refresh(uow=uow, clock=clock, ids=ids, refresh_ttl=refresh_ttl, claims=claims)
        return issue_tokens(session)


@blp.route("/verify/")
class Verify(MethodView):
    @blp.arguments(VerifySchema)
    @blp.response(200, EmptySchema)
    @blp.errors(401)
    @inject
    def post(
        self, body: dict[str, Any], uow: UnitOfWork = Provide[Container.reader], clock: Clock = Provide[Container.clock]
    ) -> dict[str, Any]:
        """Check that a token is genuine, unexpired and not revoked (a rotated refresh token is not valid)."""
        payload = decode_any(body["token"])
        auth.verify(uow=uow, clock=clock, claims=claims_of(payload), is_refresh=payload["type"] == "refresh")
        return {}


@blp.route("/revoke/")
class Revoke(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(204)
    @blp.errors(401)
    @inject
    def post(
        self, body: dict[str, Any], uow: UnitOfWork = Provide[Container.uow], clock: Clock = Provide[Container.clock]
    ) -> None:
        """Log out: revoke the refresh token's family and the access token sent with it, if any."""
        claims = claims_of(decode(body["refresh"], "refresh"))
        access = bearer_payload()
        access_jti = access["jti"] if access else None
        access_expiry = datetime.fromtimestamp(access["exp"], UTC) if access else None
        auth.revoke(uow=uow, clock=clock, family=claims.family, access_jti=access_jti, access_expires_at=access_expiry)


def decode_any(token: str) -> dict[str, Any]:
    try:
        return decode(token, "access")
    except AuthenticationFailed:
        return decode(token, "refresh")
