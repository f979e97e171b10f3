"""One error handler for everything: every 4xx and 5xx is RFC 9457 application/problem+json."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, g, json, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as WerkzeugNotFound

from shop.application.errors import (
    AlreadyExists,
    AuthenticationFailed,
    Busy,
    Conflict,
    Forbidden,
    IdempotencyMismatch,
    NotFound,
    OutcomeUnknown,
    PreconditionFailed,
    TooManyAttempts,
    WebhooksNotConfigured,
)
from shop.application.outages import OutageLog
from shop.domain.errors import InsufficientStock, InvalidTransition, InvalidValue

log = logging.getLogger("shop.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:shop:problem:"
NO_ROUTE = "Nothing is found at this address."


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind if kind else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        **extra,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"items": {0: {"quantity": [..]}}} -> {"items.0.quantity": [..]}.

    Marshmallow's "_schema" (a whole object is wrong, e.g. not an object at all) names the enclosing path.
    """
    if isinstance(errors, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            for name, messages in flatten(value, _join(prefix, key)).items():
                flat.setdefault(name, []).extend(messages)
        return flat
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return {prefix or "body": list(errors)}
    return {prefix or "body": [str(errors)]}


def _join(prefix: str, key: object) -> str:
    if key == "_schema":
        return prefix or "body"
    return f"{prefix}.{key}" if prefix else str(key)


def _validation(status: int, errors: Mapping[str, list[str]]) -> Response:
    fields = ", ".join(errors)
    return problem(
        status,
        f"The request is invalid: {fields}.",
        kind="validation-error",
        title="Invalid request",
        errors=dict(errors),
    )


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    if "messages" in data or "errors" in data:
        messages = data.get("errors", data.get("messages"))
        # webargs nests errors under the location ("json", "query"); clients want the field.
        # A location may also hold a bare list, e.g. {"json": ["Invalid JSON body."]} for malformed JSON.
        if isinstance(messages, Mapping) and set(messages) <= {"json", "query", "path", "headers", "form"}:
            messages = {
                k: v
                for location in messages.values()
                for k, v in (location.items() if isinstance(location, Mapping) else [("body", location)])
            }
        return _validation(status, flatten(messages))
    if status >= 500:
        return _internal_error(error)
    detail = data.get("message") or error.description or HTTPStatus(status).phrase
    if isinstance(error, WerkzeugNotFound) and detail == WerkzeugNotFound.description:
        # No route: an unknown path, or an id no resource can have (zero, beyond 32 bits). Werkzeug's
        # text ("If you entered the URL manually...") speaks to a person at a browser.
        detail = NO_ROUTE
    headers = dict(data.get("headers") or {})
    response = error.get_response()
    for name in ("Allow", "Retry-After"):
        if name in response.headers:
            headers[name] = response.headers[name]
    return problem(status, detail, headers=headers)


def _internal_error(error: BaseException) -> Response:
    request_id = getattr(g, "request_id", "-")
    log.error("unhandled error, request_id=%s", request_id, exc_info=error)
    return problem(
        500,
        f"An unexpected error occurred. Quote request id {request_id} when reporting it.",
        request_id=request_id,
    )


def answer(error: Exception) -> Response:
    """What the API answers to this error: the handler registered for its nearest class. The console
    shows the same status and words as a page (console/blueprint.py)."""
    answers: dict[type[Exception], Callable[[Any], Response]] = current_app.extensions["shop.problems"]
    for kind in type(error).__mro__:
        if kind in answers:
            return answers[kind](error)
    raise error  # Exception has a handler below: never reached


def register(app: Flask) -> None:
    database_outage = OutageLog(log, "database unavailable; answering 503")
    answers: dict[type[Exception], Callable[[Any], Response]] = {HTTPException: handle_http_exception}
    app.extensions["shop.problems"] = answers

    def on(*kinds: type[Exception]) -> Callable[[Callable[[Any], Response]], Callable[[Any], Response]]:
        def registered(handler: Callable[[Any], Response]) -> Callable[[Any], Response]:
            for kind in kinds:
                app.register_error_handler(kind, handler)
                answers[kind] = handler
            return handler

        return registered

    @on(InvalidValue)
    def _invalid(error: InvalidValue) -> Response:
        return _validation(400, error.errors)

    @on(InsufficientStock)
    def _short(error: InsufficientStock) -> Response:
        return problem(
            409,
            str(error),
            kind="insufficient-stock",
            title="Not enough stock",
            shortages=[
                {"product": s.product_id, "name": s.name, "requested": s.requested, "available": s.available}
                for s in error.shortages
            ],
        )

    @on(InvalidTransition)
    def _transition(error: InvalidTransition) -> Response:
        return problem(
            409, str(error), kind="invalid-transition", title="Invalid status change", current_status=error.current
        )

    @on(AlreadyExists)
    def _exists(error: AlreadyExists) -> Response:
        return problem(
            409, str(error), kind="already-exists", title="Already exists", errors={error.field: [str(error)]}
        )

    @on(NotFound)
    def _not_found(error: NotFound) -> Response:
        return problem(404, str(error))

    @on(Forbidden)
    def _forbidden(error: Forbidden) -> Response:
        return problem(403, str(error))

    @on(AuthenticationFailed)
    def _unauthenticated(error: AuthenticationFailed) -> Response:
        return problem(401, str(error), headers={"WWW-Authenticate": "Bearer"})

    @on(IdempotencyMismatch)
    def _key_reused(error: IdempotencyMismatch) -> Response:
        return problem(422, str(error), kind="idempotency-key-reused", title="Idempotency-Key reused")

    @on(PreconditionFailed)
    def _outdated(error: PreconditionFailed) -> Response:
        return problem(412, str(error), kind="precondition-failed", title="Precondition failed")

    @on(Conflict)
    def _conflict(error: Conflict) -> Response:
        return problem(409, str(error))

    @on(TooManyAttempts)
    def _too_many(error: TooManyAttempts) -> Response:
        return problem(429, str(error), headers={"Retry-After": str(error.retry_after_seconds)})

    @on(WebhooksNotConfigured)
    def _webhooks_off(error: WebhooksNotConfigured) -> Response:
        return problem(
            503, "Webhooks are not configured on this server: WEBHOOK_SECRET_KEY is not set.", kind="webhooks-off"
        )

    @on(Busy)
    def _busy(error: Busy) -> Response:
        # Not an outage: a row was locked too long, or kept changing. The access line tells it.
        return problem(503, str(error), kind="busy", title="Busy, retry shortly", headers={"Retry-After": "1"})

    @on(OutcomeUnknown)
    def _outcome_unknown(error: OutcomeUnknown) -> Response:
        database_outage.failed(error)
        return problem(503, str(error), kind="outcome-unknown", title="Outcome unknown", headers={"Retry-After": "1"})

    @on(DBAPIError)
    def _database_error(error: DBAPIError) -> Response:
        # A connection lost mid-statement surfaces under whatever class the driver chose; SQLAlchemy
        # tells them all by connection_invalidated. On a live connection, the error is a bug.
        if error.connection_invalidated:
            return _database_unavailable(error)
        return _internal_error(error)

    @on(PoolTimeout, OperationalError)
    def _database_unavailable(error: DBAPIError | PoolTimeout) -> Response:
        database_outage.failed(error)  # the access line, at WARNING, tells each refused request
        return problem(
            503,
            "The database is busy or unreachable; nothing was changed. Retry shortly.",
            headers={"Retry-After": "1"},
        )

    @on(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return handle_http_exception(error)
        return _internal_error(error)
