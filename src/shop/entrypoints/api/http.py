"""Request and response plumbing: request ids, content-type checks, security headers, id routes."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, current_app, g, request, url_for
from flask_cors import CORS
from werkzeug.exceptions import BadRequest, UnsupportedMediaType
from werkzeug.http import generate_etag
from werkzeug.routing import BaseConverter, ValidationError
from werkzeug.sansio.utils import host_is_trusted

from shop.application.reads import READER
from shop.application.views import Viewed
from shop.domain.errors import InvalidValue
from shop.entrypoints.api.jsonfast import NUL_REFUSED
from shop.entrypoints.api.schemas.common import ID_MAX
from shop.entrypoints.api.security import admitted
from shop.entrypoints.docs import CSP as DOCS_CSP

log = logging.getLogger("shop.http")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # fullmatch: "$" would also take a final line break
_PATH_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
DOCS_PREFIX = "/api/schema/"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
RETRY_LATER = frozenset({429, 503})
PAGINATION = "X-Pagination"


T = TypeVar("T")

IF_MATCH_PARAMETER = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": "The ETag of your last GET: the change applies only if nobody changed the resource since "
    "(412 otherwise, and nothing changes). `*` matches any state. Without it the change is unconditional.",
    "schema": {"type": "string"},
}


LOCATION_HEADER = {
    "description": "The path of the resource just created, to GET it.",
    "schema": {"type": "string", "example": "/orders/42/"},
}


def created(body: T, endpoint: str, **ids: Any) -> tuple[T, int, dict[str, str]]:
    """A 201 with the Location of what was made (a path: RFC 9110 allows a relative reference)."""
    return body, 201, {"Location": url_for(endpoint, **ids)}


def viewed(view: Viewed) -> Response:
    """A view's body, sent as it was rendered (and perhaps cached): JSON, 200."""
    admitted(view.actor)
    return Response(view.body, mimetype="application/json")


def etag_of(body: Any) -> str:
    """The strong ETag a GET answering this body carries (see _after)."""
    rendered = current_app.json.response(body)
    assert isinstance(rendered, Response)
    return generate_etag(rendered.get_data())


def if_match(render: Callable[[T], Any]) -> Callable[[T], bool] | None:
    """The request's If-Match as a precondition on the stored state, rendered as a GET would
    render it; None when the request has no If-Match. Weak tags never match (RFC 9110)."""
    if "If-Match" not in request.headers:
        return None
    tags = request.if_match
    return lambda current: tags.star_tag or tags.contains(etag_of(render(current)))


class IdConverter(BaseConverter):
    """A positive database id; anything else (letters, zero, beyond 32 bits) is simply not a route: 404."""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= ID_MAX:
            raise ValidationError()
        return number

    def to_url(self, value: object) -> str:
        return str(value)


def _before() -> None:
    READER.set(None)  # until a token or session says who (a request thread serves many requests)
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
    # Probes and scrapes come to each replica by its IP (kubelet, Prometheus), never through the proxy.
    if request.blueprint != "ops" and not host_is_trusted(request.host, current_app.config["SHOP_TRUSTED_HOSTS"]):
        raise BadRequest("This service does not answer for the host named in the Host header.")
    if nul := sorted(name for name, value in _texts() if "\x00" in name or "\x00" in value):
        raise InvalidValue({name: [NUL_REFUSED] for name in nul})
    if request.routing_exception is not None or request.url_rule is None:
        return  # an unknown route (404) or method (405) is that, whatever the body
    allowed = current_app.config["SHOP_QUERY_PARAMETERS"].get((request.url_rule.rule, request.method))
    if allowed is None:
        return  # not an operation of the API: the console's forms, the probes, the docs pages
    if request.method in {"POST", "PUT", "PATCH"} and _has_body() and not request.is_json:
        raise UnsupportedMediaType("Send the request body as JSON with Content-Type: application/json.")
    if unknown := sorted(set(request.args) - allowed):
        raise InvalidValue({name: ["Unknown query parameter."] for name in unknown})


def _texts() -> list[tuple[str, str]]:
    """The query's parameters and, on a form post (the console's), its fields. PostgreSQL's text can't
    hold a NUL character, and no field of the service needs one: refused wherever it comes from
    (JSON bodies: api/jsonfast.py)."""
    texts = list(request.args.items(multi=True))
    if request.method == "POST" and request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        texts += request.form.items(multi=True)
    return texts


def documented_query_parameters(app: Flask, spec: dict[str, Any]) -> dict[tuple[str, str], frozenset[str]]:
    """(route, method) -> the query parameters its OpenAPI operation declares; others are refused with
    400, so a typo such as ?in_stok=true is reported instead of silently returning everything."""
    allowed = {}
    for rule in app.url_map.iter_rules():
        operations = spec["paths"].get(_PATH_PARAMETER.sub(r"{\1}", rule.rule), {})
        for method in rule.methods or ():
            operation = operations.get(method.lower())
            if operation is not None:
                names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
                allowed[(rule.rule, method)] = frozenset(names)
    return allowed


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _after(response: Response) -> Response:
    if response.location:
        _drop_own_host(response)
    if response.status_code == 200 and not response.is_streamed:
        if request.method == "GET":
            # A strong ETag over the body; If-None-Match with it answers 304 without the body.
            response.add_etag()
            response.make_conditional(request)
        elif request.method in {"PUT", "PATCH"}:
            response.add_etag()  # the new state's tag: the If-Match of the next change
    headers = response.headers
    if response.status_code not in RETRY_LATER:
        # flask-limiter tells every answer of a limited route when its window resets, as Retry-After;
        # that header means "retry later" (RFC 9110), so only a refusal carries it. X-RateLimit-* stay.
        headers.pop("Retry-After", None)
    if PAGINATION in headers:
        headers[PAGINATION] = complete_pagination(headers[PAGINATION], request.args.get("page", 1, type=int))
    headers["X-Request-ID"] = getattr(g, "request_id", "-")
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Referrer-Policy", "no-referrer")  # the console's forms need same-origin
    if request.path.startswith(DOCS_PREFIX):
        headers["Content-Security-Policy"] = DOCS_CSP
    else:  # the console sets its own policy
        headers.setdefault("Content-Security-Policy", API_CSP)
        headers["X-Frame-Options"] = "DENY"
    if "Authorization" in request.headers and "Cache-Control" not in headers:
        # Per-user answers: a browser may keep them (and revalidate with an ETag), a shared cache may not.
        headers["Cache-Control"] = "private, no-cache"
        headers.add("Vary", "Authorization")
    elif "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response


def _drop_own_host(response: Response) -> None:
    """werkzeug's redirects (a missing trailing slash) name the request's host: a path is enough, and
    then no redirect ever carries a host the client chose."""
    target = urlsplit(response.location)
    if target.netloc == request.host:
        response.location = urlunsplit(("", "", target.path, target.query, target.fragment))


def complete_pagination(header: str, page: int) -> str:
    """flask-smorest's X-Pagination, with page, first_page and last_page on an empty page too (past
    the end, or of an empty list, which still has its first page); previous_page there is the last
    page that has items."""
    metadata = json.loads(header)
    if "page" in metadata:
        return header
    last_page = max(metadata["total_pages"], 1)
    metadata.update(first_page=1, last_page=last_page, page=page)
    if page > 1:
        metadata["previous_page"] = min(page - 1, last_page)
    return json.dumps(metadata)


def init_http(app: Flask, trusted_hosts: tuple[str, ...]) -> None:
    """trusted_hosts: the names (".example.com": and its subdomains) the Host header may carry."""
    app.config["SHOP_TRUSTED_HOSTS"] = list(trusted_hosts)
    app.url_map.converters["id"] = IdConverter
    app.url_map.strict_slashes = True
    app.before_request(_before)
    app.after_request(_after)


def init_cors(app: Flask, origins: tuple[str, ...]) -> None:
    """Cross-origin calls are refused unless CORS_ORIGINS lists the origin (off by default)."""
    if not origins:
        return
    CORS(
        app,
        origins=list(origins),
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match", "X-Request-ID"],
        expose_headers=["X-Pagination", "X-Request-ID", "Idempotent-Replayed", "ETag", "Retry-After", "Location"],
        max_age=600,
    )
