from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T")


class ApplicationError(Exception):
    """A request the application refuses; entrypoints translate each kind to a status."""


class NotFound(ApplicationError):
    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} not found.")


class Forbidden(ApplicationError):
    pass


class AlreadyExists(ApplicationError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class AuthenticationFailed(ApplicationError):
    def __init__(self, message: str = "No active account found with the given credentials.") -> None:
        super().__init__(message)


class Conflict(ApplicationError):
    """The request can't be done in the resource's current state."""


class PreconditionFailed(ApplicationError):
    """The resource changed since the client read it (If-Match): applying the request would undo
    someone else's change."""


def check_precondition(precondition: Callable[[T], bool] | None, current: T, what: str) -> None:
    """The client's condition (If-Match), judged on the stored state before any change."""
    if precondition is not None and not precondition(current):
        raise PreconditionFailed(f"The {what} changed since you read it: GET it again, then retry.")


class Busy(ApplicationError):
    """Refused for now, nothing changed: a row it needs is locked by another transaction for longer
    than the service waits, or kept changing under it. Worth retrying in a moment."""


class OutcomeUnknown(ApplicationError):
    """The connection to the database died while it committed (the primary lost at that moment): the
    change may stand or not. A retry with the same Idempotency-Key replays it or makes it, once."""

    def __init__(self) -> None:
        super().__init__(
            "The database connection was lost while this change was being saved: it may or may not have "
            "been made. Retry with the same Idempotency-Key, or check before repeating it."
        )


class IdempotencyMismatch(ApplicationError):
    """An Idempotency-Key was reused with a different request."""


class TooManyAttempts(ApplicationError):
    """A limit on attempts (failed logins of a username, password changes of an account) is reached."""

    def __init__(self, what: str, retry_after: timedelta) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"Too many {what}: try again in {self.retry_after_seconds} seconds.")


class WebhooksNotConfigured(ApplicationError):
    """WEBHOOK_SECRET_KEY is not set: endpoint secrets can be neither sealed nor read."""
