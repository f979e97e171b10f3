"""Headers for browsers: CSP (relaxed only on the docs pages), CORS off unless configured."""

from __future__ import annotations

from dataclasses import replace

from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api


def test_api_responses_carry_a_restrictive_content_security_policy(api: Api, customer_token: str) -> None:
    response = api.call("GET", "/products/", customer_token)
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_docs_pages_get_a_policy_that_lets_them_render(api: Api) -> None:
    for path in ("/api/schema/redoc/", "/api/schema/swagger-ui/"):
        response = api.client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert response.status_code == 200
        assert "script-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy


def test_cross_origin_requests_get_no_cors_headers_by_default(api: Api) -> None:
    response = api.client.options(
        "/api/token/", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_configured_origins_are_allowed_and_others_are_not(settings: Settings) -> None:
    client = create_app(replace(settings, cors_origins=("https://shop.example",))).test_client()

    allowed = client.options(
        "/api/token/",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    refused = client.options(
        "/api/token/", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_a_page_far_past_the_end_is_empty_not_an_error(api: Api, customer_token: str) -> None:
    response = api.call("GET", "/products/?page=100000000000000000000", customer_token)
    assert response.status_code == 200
    assert response.get_json() == []
