"""GET /: a small JSON index pointing at the docs, the OpenAPI document, the console and readiness."""

from __future__ import annotations

from dataclasses import replace

from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings

from .conftest import Api


def test_the_root_points_at_the_docs_the_console_and_health(api: Api) -> None:
    response = api.client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "name": "shop",
        "version": "1.0.0",
        "links": {
            "docs": "/api/schema/redoc/",
            "swagger_ui": "/api/schema/swagger-ui/",
            "openapi": "/api/schema/",
            "console": "/console/",
            "health": "/health/ready",
        },
    }


def test_every_link_of_the_index_answers(api: Api) -> None:
    for link in api.client.get("/").get_json()["links"].values():
        assert api.client.get(link).status_code in {200, 302}, link  # the console sends visitors to its login


def test_the_index_needs_no_token_and_is_never_rate_limited(settings: Settings) -> None:
    limited = create_app(replace(settings, ratelimit_per_address="1 per minute")).test_client()

    assert [limited.get("/").status_code for _ in range(5)] == [200] * 5


def test_the_index_stays_out_of_the_public_api_document(api: Api) -> None:
    assert "/" not in api.client.get("/api/schema/").get_json()["paths"]
