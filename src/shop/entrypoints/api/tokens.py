from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView

from shop.application import auth
from shop.application.errors import AuthenticationFailed
from shop.application.ports import AccessCache, Clock, IdGenerator, Metrics, PasswordHasher, UnitOfWork
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
        metrics: Metrics = Provide[Container.metrics],
    ) -> dict[str, str]:
        """Log in: exchange a username and password for an access and a refresh token."""
        session = auth.login(
            uow=uow, hasher=hasher, clock=clock, ids=ids, refresh_ttl=refresh_ttl, metrics=metrics, **body
        )
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
        access_cache: AccessCache = Provide[Container.access_cache],
    ) -> dict[str, str]:
        """Rotate a refresh token: the old one stops working; using it again revokes its whole family."""
        claims = claims_of(decode(body["refresh"], "refresh"))
        session = auth.refresh(
            uow=uow, clock=clock, ids=ids, refresh_ttl=refresh_ttl, claims=claims, access_cache=access_cache
        )
        return issue_tokens(session)


@blp.route("/verify/")
class Verify(MethodView):
    @blp.arguments(VerifySchema)
    @blp.response(200, EmptySchema)
    @blp.errors(401)
    @inject
    def post(
        self,
        body: dict[str, Any],
        uow: UnitOfWork = Provide[Container.reader],
        clock: Clock = Provide[Container.clock],
        access_cache: AccessCache = Provide[Container.access_cache],
    ) -> dict[str, Any]:
        """Check that a token is genuine, unexpired and not revoked (a rotated refresh token is not valid)."""
        payload = decode_any(body["token"])
        is_refresh = payload["type"] == "refresh"
        auth.verify(uow=uow, clock=clock, claims=claims_of(payload), is_refresh=is_refresh, access_cache=access_cache)
        return {}


@blp.route("/revoke/")
class Revoke(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(204)
    @blp.errors(401)
    @inject
    def post(
        self,
        body: dict[str, Any],
        uow: UnitOfWork = Provide[Container.uow],
        clock: Clock = Provide[Container.clock],
        access_cache: AccessCache = Provide[Container.access_cache],
    ) -> None:
        """Log out: revoke the refresh token's family and the access token sent with it, if any."""
        refresh = claims_of(decode(body["refresh"], "refresh"))
        access = bearer_payload()
        auth.revoke(
            uow=uow,
            clock=clock,
            refresh=refresh,
            access=claims_of(access) if access else None,
            access_expires_at=datetime.fromtimestamp(access["exp"], UTC) if access else None,
            access_cache=access_cache,
        )


def decode_any(token: str) -> dict[str, Any]:
    try:
        return decode(token, "access")
    except AuthenticationFailed:
        return decode(token, "refresh")
