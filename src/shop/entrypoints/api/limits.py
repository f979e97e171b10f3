"""Rate limits on the doors a brute-forcer knocks on: login, refresh and sign-up.

Failed logins are limited per username (tight), every call per client address (generous, so an
office behind one NAT is not locked out). Counters live in memory by default, in Redis when
RATELIMIT_STORAGE_URI names it, so limits hold across workers and instances.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from shop.entrypoints.settings import Settings

PER_ADDRESS = ("tokens.Obtain", "tokens.Refresh", "users.Users")
LOGIN = "tokens.Obtain"


def _username() -> str:
    body = request.get_json(silent=True)
    username = body.get("username") if isinstance(body, dict) else None
    return f"username:{username.casefold()}" if isinstance(username, str) else f"address:{get_remote_address()}"


def _login_failed(response: Response) -> bool:
    return response.status_code == 401


def init_rate_limits(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.ratelimit_storage_uri,
        strategy="moving-window",
        headers_enabled=True,
        enabled=settings.ratelimit_enabled,
        key_prefix="shop",
        # A Redis outage must not take logins down: fall back to per-process counters meanwhile.
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    for endpoint in PER_ADDRESS:
        view: Any = limiter.limit(settings.ratelimit_per_address, methods=["POST"])(app.view_functions[endpoint])
        if endpoint == LOGIN:
            view = limiter.limit(
                settings.ratelimit_login_failures, key_func=_username, methods=["POST"], deduct_when=_login_failed
            )(view)
        app.view_functions[endpoint] = view
    return limiter
