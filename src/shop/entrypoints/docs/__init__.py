"""The API's documentation pages, ReDoc and Swagger UI, with every script served by the service
itself (pinned in vendor.json, fetched by `make install`): they render on a machine with no network,
under a Content-Security-Policy that allows no script but ours."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import Blueprint, Flask, render_template, url_for

log = logging.getLogger("shop.docs")
HERE = Path(__file__).parent

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


def missing_scripts() -> list[str]:
    """The vendored files vendor.json names that are not on disk (pip install . without make install)."""
    packages = json.loads((HERE / "vendor.json").read_text())["packages"]
    wanted = [name for package in packages for name in package["files"].values()]
    return [name for name in wanted if not (HERE / "static" / "vendor" / name).is_file()]


def init_docs(app: Flask) -> None:
    if missing := missing_scripts():
        log.error("API docs pages will be blank: %s missing; run python tools/vendor_docs.py", ", ".join(missing))
    app.register_blueprint(blp)
