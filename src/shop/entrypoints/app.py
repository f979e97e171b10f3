"""The Flask application factory."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import flask_smorest
from apispec import BasePlugin
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shop.container import Container
from shop.entrypoints import tracing
from shop.entrypoints.api import orders, problems, products, tokens, users, webhooks
from shop.entrypoints.api.http import IdConverter, documented_query_parameters, init_cors, init_http
from shop.entrypoints.api.index import init_index
from shop.entrypoints.api.jsonfast import OrjsonProvider
from shop.entrypoints.api.limits import init_rate_limits
from shop.entrypoints.api.ops import init_ops
from shop.entrypoints.api.schemas.common import ID_MAX, PartialUpdateSchema, ProblemSchema
from shop.entrypoints.api.security import init_jwt
from shop.entrypoints.console import init_console
from shop.entrypoints.docs import init_docs
from shop.entrypoints.logs import configure_logging
from shop.entrypoints.settings import Settings

BLUEPRINTS = (tokens, users, products, orders, webhooks)


class NonEmptyUpdates(BasePlugin):
    """Documents that a partial update needs at least one field."""

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        schema = kwargs.get("schema")
        schema_class = schema if isinstance(schema, type) else type(schema)
        return {"minProperties": 1} if issubclass(schema_class, PartialUpdateSchema) else None


class ProblemResponses(BasePlugin):
    """Documents every error response (flask-smorest's ERROR_SCHEMA) as application/problem+json,
    through apispec's public plugin hook."""

    def response_helper(self, response: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        content = response.get("content", {})
        body = content.get("application/json")
        if body is None or body.get("schema") != {"$ref": "#/components/schemas/Problem"}:
            return None
        return {"content": {problems.PROBLEM_JSON: body}}


class Api(flask_smorest.Api):  # type: ignore[misc]
    """flask-smorest, with every error documented as application/problem+json (ProblemResponses)."""

    ERROR_SCHEMA = ProblemSchema

    def _register_pagination_header(self) -> None:
        # No public hook replaces this component: apispec's header_helper runs after the marshmallow
        # plugin has registered flask-smorest's PaginationMetadata schema.
        # The header carries JSON text, so to a client (and to schema validators) it is a string.
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata as JSON: total, total_pages, first_page, last_page, page, "
                "previous_page, next_page.",
                "schema": {"type": "string", "example": '{"total": 42, "total_pages": 3, "page": 1, "next_page": 2}'},
            },
            lazy=True,
        )

    def handle_http_exception(self, error: Any) -> Any:
        return problems.handle_http_exception(error)


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    tracing.start(tracing.API)
    container = container or Container()
    container.config.from_dict(asdict(settings))
    container.wire(packages=["shop.entrypoints.api", "shop.entrypoints.console"])

    app = Flask("shop")
    if settings.proxy_hops:
        # Behind nginx (or a load balancer): the client's address and scheme come from the
        # X-Forwarded-* headers the trusted proxies set; rate limits and logs key on that address.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.json = OrjsonProvider(app)
    app.container = container  # type: ignore[attr-defined]
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_content_length,
        JSON_SORT_KEYS=False,
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=settings.access_token_ttl,
        JWT_REFRESH_TOKEN_EXPIRES=settings.refresh_token_ttl,
        API_TITLE="shop",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/schema",
        OPENAPI_JSON_PATH="/",
        # ReDoc and Swagger UI are served by shop.entrypoints.docs, from no CDN.
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
            "info": {"description": "Order-system API: users, JWT auth, a product catalog and orders."},
        },
    )
    init_ops(app, settings.metrics_token)
    tracing.instrument_api(app, container)
    init_http(app, settings.trusted_hosts)
    init_jwt(app)
    api = Api(app, spec_kwargs={"extra_plugins": [NonEmptyUpdates(), ProblemResponses()]})
    api.register_converter(IdConverter, lambda _converter: {"type": "integer", "minimum": 1, "maximum": ID_MAX})
    for module in BLUEPRINTS:
        api.register_blueprint(module.blp)
    init_docs(app)
    init_console(app, settings)
    init_index(app)
    app.config["SHOP_QUERY_PARAMETERS"] = documented_query_parameters(app, api.spec.to_dict())
    # flask-limiter holds its Limiter weakly: the app keeps it alive.
    app.extensions["shop-limiter"] = init_rate_limits(app, settings)
    init_cors(app, settings.cors_origins)
    problems.register(app)
    return app
