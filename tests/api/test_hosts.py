"""The Host header: only the names TRUSTED_HOSTS lists are served, and no redirect carries a host."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.test_errors import assert_problem


@pytest.fixture
def production(settings: Settings) -> FlaskClient:
    return create_app(
        replace(settings, production=True, trusted_hosts=("shop.example", ".api.example"), metrics_token="m")
    ).test_client()


@pytest.mark.parametrize("path", ["/products/", "/api/token/", "/api/schema/", "/nowhere/"])
def test_a_host_nobody_trusted_is_a_400_problem(production: FlaskClient, path: str) -> None:
    response = production.get(path, headers={"Host": "evil.example"})

    problem = assert_problem(response, 400)
    assert "Host" in problem["detail"]
    assert "evil.example" not in response.get_data(as_text=True)


def test_the_console_refuses_a_host_nobody_trusted_too(production: FlaskClient) -> None:
    response = production.get("/console/products", headers={"Host": "evil.example"})

    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize("host", ["shop.example", "shop.example:8443", "eu.api.example", "api.example"])
def test_the_trusted_names_are_served_whatever_the_port(production: FlaskClient, host: str) -> None:
    assert production.get("/api/schema/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
def test_probes_and_scrapes_answer_whatever_the_host(production: FlaskClient, path: str) -> None:
    """kubelet and Prometheus address each replica by its IP, and nginx never forwards these paths."""
    response = production.get(path, headers={"Host": "10.1.2.3:8000", "Authorization": "Bearer m"})

    assert response.status_code == 200


@pytest.mark.parametrize(("path", "target"), [("/console/products", "/console/products/"), ("/products", "/products/")])
def test_a_trailing_slash_redirect_names_no_host(production: FlaskClient, path: str, target: str) -> None:
    response = production.get(path, headers={"Host": "shop.example"}, query_string={"q": "tea"})

    assert response.status_code == 308
    assert response.headers["Location"] == f"{target}?q=tea"


def test_in_development_the_local_names_are_trusted(client: FlaskClient) -> None:
    assert client.get("/api/schema/", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/api/schema/", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/api/schema/", headers={"Host": "evil.example"}).status_code == 400
