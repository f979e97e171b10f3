"""The per-address rate limit on the doors a brute-forcer knocks on: login (API and console), refresh
and sign-up. Generous, so an office behind one NAT is not locked out.

The tight limits (failed logins per username, password changes per account) are rules of the use
cases, counted through the Attempts port before any password is checked or hashed. This one is
flask-limiter's: its counters live where RATELIMIT_STORAGE_URI says, else in Redis when REDIS_URL is
set, shared by every worker and instance; with neither, each worker process counts on its own.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from shop.entrypoints.settings import Settings

log = logging.getLogger("shop.limits")

PER_ADDRESS = ("tokens.Obtain", "tokens.Refresh", "users.Users", "console.login")


def per_address_storage(settings: Settings) -> str:
    """RATELIMIT_STORAGE_URI when set (Redis, or memory:// on purpose), else the caches' Redis."""
    return settings.ratelimit_storage_uri or settings.redis_url or "memory://"


def init_rate_limits(app: Flask, settings: Settings) -> Limiter:
    storage = per_address_storage(settings)
    if storage == "memory://" and settings.ratelimit_enabled:
        log.log(
            logging.WARNING if settings.production else logging.INFO,
            "the per-address rate limit counts in each worker process: set REDIS_URL to share it",
        )
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=storage,
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
        app.view_functions[endpoint] = view
    return limiter
