"""The console over HTTP through Flask's test client: forms, cookies and CSRF tokens as a browser
sends them (tests/browser drives a real Chromium)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from shop.container import Container
from shop.domain.products import Product
from tests.api.conftest import Api, app, client, settings  # noqa: F401  (the same whole stack)
from tests.fakes import PASSWORD
from tests.support import UseCases, container_of

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """A browser without JavaScript: it follows links, and posts forms with the token they carry."""

    def __init__(self, http: FlaskClient) -> None:
        self.client = http

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def token(self, page: str) -> str:
        response = self.get(page)
        assert response.status_code == 200, response.get_data(as_text=True)[:400]
        found = CSRF.search(response.get_data(as_text=True))
        assert found is not None, f"no form on {page}"
        return found.group(1)

    def submit(self, page: str, action: str, data: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
        """Open `page`, then post `data` to `action` with the CSRF token of the page's form."""
        return self.client.post(action, data={"csrf_token": self.token(page), **(data or {})}, **kwargs)

    def sign_in(self, username: str, password: str = PASSWORD, next: str | None = None) -> TestResponse:
        form = {"username": username, "password": password, **({"next": next} if next is not None else {})}
        return self.submit("/console/login", "/console/login", form)


def text_of(response: TestResponse) -> str:
    """The page as a person reads it: no tags, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


@pytest.fixture
def console(client: FlaskClient) -> Console:  # noqa: F811
    return Console(client)


@pytest.fixture
def container(app: Flask) -> Container:  # noqa: F811
    return container_of(app)


@pytest.fixture
def manager(container: Container, console: Console) -> Console:
    """A console with a manager signed in."""
    UseCases(container.bus()).make_manager(username="boss", password=PASSWORD)
    assert console.sign_in("boss").status_code == 302
    return console


@pytest.fixture
def api(client: FlaskClient) -> Api:  # noqa: F811
    return Api(client)


@pytest.fixture
def add_product(api: Api, container: Container) -> Callable[..., Product]:
    UseCases(container.bus()).make_manager(username="stocker", password=PASSWORD)
    token = api.login("stocker")["access"]

    def add(name: str = "Lamp", price: str = "12.50", stock: int = 10, currency: str = "TWD") -> Product:
        response = api.call(
            "POST", "/products/", token, json={"name": name, "price": price, "stock": stock, "currency": currency}
        )
        assert response.status_code == 201, response.get_json()
        product: Product = UseCases(container.bus()).get_product(product_id=response.get_json()["id"])
        return product

    return add
