"""The limits on attempts the use cases count before any password is hashed or checked."""

from __future__ import annotations

from datetime import datetime

from shop.application.errors import TooManyAttempts
from shop.application.ports.attempts import Attempts, Limit, Refused, Taken
from shop.domain.text import comparison_key


def failed_login_key(username: str) -> str:
    """One count per username however it is typed: "Alice", "alice" and "alice" with a zero-width space
    are one account (the key the lookup compares, shop.domain.text)."""
    return f"login:{comparison_key(username)}"


def password_change_key(user_id: int) -> str:
    return f"password-change:{user_id}"


def take(attempts: Attempts, key: str, limit: Limit, now: datetime, *, what: str) -> Taken:
    """An attempt counted under key, or TooManyAttempts saying when the next one is free."""
    attempt = attempts.take(key, limit, now)
    if isinstance(attempt, Refused):
        raise TooManyAttempts(what, attempt.retry_after)
    return attempt
