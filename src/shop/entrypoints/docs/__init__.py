"""The API's documentation pages, ReDoc and Swagger UI, with every script served by the service
itself (pinned in vendor.json, fetched by `make install`): they render on a machine with no network,
under a Content-Security-Policy that allows no script but ours."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, url_for

PREFIX = "/api/schema"
# ReDoc and Swagger UI style their elements inline (style attributes), and ReDoc searches in a web
# worker started from a blob: URL. No inline or remote script, no eval, nothing framed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

blp = Blueprint(
    "docs", __name__, url_prefix=PREFIX, static_folder="static", static_url_path="/assets", template_folder="templates"
)


@blp.get("/redoc/")
def redoc() -> str:
    return render_template("docs/redoc.html", spec_url=url_for("api-docs.openapi_json"))


@blp.get("/swagger-ui/")
def swagger_ui() -> str:
    return render_template("docs/swagger_ui.html", spec_url=url_for("api-docs.openapi_json"))


def init_docs(app: Flask) -> None:
    app.register_blueprint(blp)
