"""Rate limits on the doors a brute-forcer knocks on: login (API and console), refresh and sign-up.

Failed logins are limited per username (tight), every call per client address (generous, so an
office behind one NAT is not locked out). The API's and the console's logins share one count of
failures per username: two doors do not make twice the guesses. Counters live in memory by
default, in Redis when RATELIMIT_STORAGE_URI names it, so limits hold across workers and instances.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from shop.domain.text import comparison_key
from shop.entrypoints.settings import Settings

PER_ADDRESS = ("tokens.Obtain", "tokens.Refresh", "users.Users", "console.login")
LOGINS = ("tokens.Obtain", "console.login")


def _username() -> str:
    if request.is_json:
        body = request.get_json(silent=True)
        username = body.get("username") if isinstance(body, dict) else None
    else:  # the console's login form
        username = request.form.get("username")
    # The name's key, as the lookup compares it: "CAROL" and "carol" with a zero-width space are carol.
    return f"username:{comparison_key(username)}" if isinstance(username, str) else f"address:{get_remote_address()}"


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
    login_failures = limiter.shared_limit(
        settings.ratelimit_login_failures,
        scope="login-failures",
        key_func=_username,
        methods=["POST"],
        deduct_when=_login_failed,
    )
    for endpoint in PER_ADDRESS:
        view: Any = limiter.limit(settings.ratelimit_per_address, methods=["POST"])(app.view_functions[endpoint])
        if endpoint in LOGINS:
            view = login_failures(view)
        app.view_functions[endpoint] = view
    return limiter
