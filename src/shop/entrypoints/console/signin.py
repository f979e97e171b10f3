"""Signing in and out of the console, and who is signed in.

The session cookie holds what a refresh token's claims hold (user, token version, token family,
token id) and when the manager signed in. Every request checks them with the API's own verify: a
password change, a demotion, a deleted account, a revoked family (signing out) or an expired or
purged refresh token ends the console session at the next click, and so does SESSION_LIFETIME.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import unquote

from dependency_injector.wiring import Provide, inject
from flask import current_app, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from shop.application import commands
from shop.application.actors import Actor, TokenClaims
from shop.application.auth import Session
from shop.application.errors import AuthenticationFailed, Forbidden
from shop.application.messagebus import MessageBus
from shop.application.reads import READER
from shop.container import Container
from shop.domain.errors import InvalidValue
from shop.entrypoints.console.blueprint import blp, page

F = TypeVar("F", bound=Callable[..., Any])

_CONSOLE_PATH = re.compile(r"/console/[\x21-\x5b\x5d-\x7e]*")  # printable ASCII but the backslash
SIGNED_OUT = "Your session has ended (expired, signed out, password changed or access revoked): sign in again."


def _claims() -> TokenClaims | None:
    try:
        return TokenClaims(
            user_id=int(session["uid"]), token_version=int(session["ver"]), jti=session["jti"], family=session["fam"]
        )
    except (KeyError, TypeError, ValueError):
        return None


def _expired() -> bool:
    """Past its lifetime since the sign-in: the cookie's own expiry is the browser's to honour."""
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    signed_in = session.get("since")
    return not isinstance(signed_in, int | float) or time.time() - signed_in > lifetime


def _to_login() -> Any:
    """To the login page; back to this page afterwards if it is one a link can reach (a GET)."""
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("console.login", next=target))


def _safe_next(target: str | None) -> str:
    """Back to the page that asked for a sign-in: a plain console path (printable ASCII, no
    backslash, no empty or dot segment), never another site nor a header of its own; else home."""
    if target and _CONSOLE_PATH.fullmatch(target):
        segments = [unquote(segment) for segment in target.partition("?")[0].split("/")[2:]]
        if "" not in segments[:-1] and not {".", ".."} & set(segments):
            return target
    return url_for("console.home")


def current_manager() -> Actor:
    actor: Actor = g.actor
    return actor


@inject
def _actor(claims: TokenClaims, bus: MessageBus = Provide[Container.bus]) -> Actor:
    actor: Actor = bus.handle(commands.Verify(claims=claims, is_refresh=True))
    READER.set(actor.user_id)
    return actor


def manager_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        claims = _claims()
        if claims is None:
            return _to_login()
        try:
            if _expired():
                raise AuthenticationFailed()
            actor = _actor(claims)
        except AuthenticationFailed:
            session.clear()
            flash(SIGNED_OUT)
            return _to_login()
        if not actor.is_manager:
            session.clear()  # demoted since signing in
            return page("managers_only.html", 403)
        g.actor = actor
        g.username = session.get("name", "")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _open(signed_in: Session) -> None:
    session.clear()  # nothing of an earlier session (its CSRF token included) survives a sign-in
    session.permanent = True
    session.update(
        uid=signed_in.user.id,
        ver=signed_in.user.token_version,
        fam=signed_in.refresh.family,
        jti=signed_in.refresh.jti,
        name=signed_in.user.username,
        since=int(time.time()),
    )


@blp.route("/login", methods=["GET", "POST"])
@inject
def login(bus: MessageBus = Provide[Container.bus]) -> Any:
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return page("login.html", next=target)
    username, password = request.form.get("username", ""), request.form.get("password", "")
    try:
        _open(bus.handle(commands.Login(username=username, password=password, managers_only=True)))
    except AuthenticationFailed as error:
        return page("login.html", 401, next=target, username=username, error=str(error))
    except InvalidValue as error:  # a name no account can have (a control character)
        return page("login.html", 400, next=target, error=" ".join(error.errors.get("username", [str(error)])))
    except Forbidden:
        return page("managers_only.html", 403)
    return redirect(target)


@blp.post("/logout")
@inject
def logout(bus: MessageBus = Provide[Container.bus]) -> Response:
    claims = _claims()
    if claims is not None:
        bus.handle(commands.Revoke(refresh=claims))  # the token family ends: this cookie, if replayed, is worth nothing
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("console.login"))
