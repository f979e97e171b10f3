"""The manager console: server-rendered pages at /console/ over the very use cases the API calls.

A second driving adapter beside api/: it parses a form, calls one assembled use case from the
container, and renders a template; no rule lives here (import-linter keeps adapters out). Pages
work without JavaScript, and the CSP allows none: every asset is served from console/static.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from shop.entrypoints.console import customers, home, orders, products, signin, webhooks  # noqa: F401  (routes)
from shop.entrypoints.console.blueprint import blp, csrf
from shop.entrypoints.settings import Settings

# A console session lasts a working day at most; revoking the manager's tokens ends it at once.
SESSION_LIFETIME = timedelta(hours=8)


def session_secret(jwt_secret: str) -> bytes:
    """The session cookie's signing key, derived from JWT_SECRET_KEY for this one purpose: a cookie
    signature and a token signature never share a key, and there is no second secret to manage."""
    return hmac.new(jwt_secret.encode(), b"shop console session", hashlib.sha256).digest()


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, made only for a request that brings the cookie: an API call
    (no cookie: the cookie's path is /console) gets an empty session without a signer being built."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def init_console(app: Flask, settings: Settings) -> CSRFProtect:
    app.config.update(
        SECRET_KEY=session_secret(settings.jwt_secret_key),
        SESSION_COOKIE_NAME="shop_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=min(SESSION_LIFETIME, settings.refresh_token_ttl),
        SESSION_REFRESH_EACH_REQUEST=False,  # the lifetime runs from the sign-in, not the last click
        # Only the console's forms carry CSRF tokens (its blueprint checks them); the API takes
        # bearer tokens, which a browser never sends on its own.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session
    )
    app.session_interface = ConsoleSessions()
    csrf.init_app(app)
    app.register_blueprint(blp)
    return csrf
