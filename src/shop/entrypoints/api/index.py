"""GET /: where to go from the service's root, for a person or a tool that found its address.

Like ops' probes it needs no token, is never rate limited and stays out of the public API document
(it is a signpost, not an operation of the API)."""

from __future__ import annotations

import orjson
from flask import Blueprint, Flask, Response, current_app, url_for

bp = Blueprint("index", __name__)


@bp.get("/")
def index() -> Response:
    links = {
        "docs": url_for("docs.redoc"),
        "swagger_ui": url_for("docs.swagger_ui"),
        "openapi": url_for("api-docs.openapi_json"),
        "console": url_for("console.home"),
        "health": url_for("ops.ready"),
    }
    body = {"name": current_app.config["API_TITLE"], "version": current_app.config["API_VERSION"], "links": links}
    return Response(orjson.dumps(body), mimetype="application/json")


def init_index(app: Flask) -> None:
    app.register_blueprint(bp)
