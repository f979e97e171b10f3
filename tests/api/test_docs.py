"""The OpenAPI document describes the API as it behaves: every path, auth, and problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

PROBLEM = "application/problem+json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

OPERATIONS = {
    ("/api/token/", "post"),
    ("/api/token/refresh/", "post"),
    ("/api/token/verify/", "post"),
    ("/api/token/revoke/", "post"),
    ("/users/", "get"),
    ("/users/", "post"),
    ("/users/{user_id}/", "get"),
    ("/users/{user_id}/", "put"),
    ("/users/{user_id}/", "patch"),
    ("/users/{user_id}/", "delete"),
    ("/users/me/", "get"),
    ("/users/me/", "put"),
    ("/users/me/", "patch"),
    ("/users/me/", "delete"),
    ("/products/", "get"),
    ("/products/", "post"),
    ("/products/{product_id}/", "get"),
    ("/products/{product_id}/", "put"),
    ("/products/{product_id}/", "patch"),
    ("/products/{product_id}/", "delete"),
    ("/orders/", "get"),
    ("/orders/", "post"),
    ("/orders/{order_id}/", "get"),
    ("/orders/{order_id}/cancel/", "post"),
    ("/orders/{order_id}/fulfil/", "post"),
    ("/webhooks/", "get"),
    ("/webhooks/", "post"),
    ("/webhooks/{webhook_id}/", "get"),
    ("/webhooks/{webhook_id}/", "patch"),
    ("/webhooks/{webhook_id}/", "delete"),
    ("/webhooks/{webhook_id}/rotate-secret/", "post"),
    ("/webhooks/{webhook_id}/ping/", "post"),
    ("/webhooks/{webhook_id}/deliveries/", "get"),
    ("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/", "post"),
}
PUBLIC = {("/api/token/", "post"), ("/api/token/refresh/", "post"), ("/api/token/verify/", "post")}
PUBLIC |= {("/api/token/revoke/", "post"), ("/users/", "post")}


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, section, kind, name = node["$ref"].split("/")
        node = spec[section][kind][name]
    return node


def test_the_schema_is_public_openapi_json(client: FlaskClient, spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "shop"
    assert spec["info"]["version"]
    assert client.get("/api/schema/").headers["X-Content-Type-Options"] == "nosniff"


def test_the_schema_lists_every_operation_and_no_other(spec: dict[str, Any]) -> None:
    assert {(path, method) for path, method, _ in operations(spec)} == OPERATIONS


def test_summaries_are_plain_text(spec: dict[str, Any]) -> None:
    """OpenAPI's summary is plain text (Swagger UI shows Markdown in it literally); Markdown belongs
    in the description, the docstring's lines after its first."""
    marked = {(path, method): op["summary"] for path, method, op in operations(spec) if "`" in op.get("summary", "")}

    assert marked == {}
    assert all(op.get("summary") for _, _, op in operations(spec))


def test_the_bearer_scheme_is_declared(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


@pytest.mark.parametrize(("path", "method"), sorted(OPERATIONS - PUBLIC))
def test_every_authenticated_operation_declares_bearer_auth_and_401(
    spec: dict[str, Any], path: str, method: str
) -> None:
    operation = spec["paths"][path][method]

    assert operation["security"] == [{"bearerAuth": []}]
    assert "401" in operation["responses"]
    unauthorized = resolve(spec, operation["responses"]["401"])
    assert set(unauthorized["content"]) == {PROBLEM}


def test_public_operations_need_no_token(spec: dict[str, Any]) -> None:
    for path, method in PUBLIC - {("/users/", "post")}:
        assert not spec["paths"][path][method].get("security"), (path, method)
    # Signing up is anonymous, or a manager's token to create a manager.
    assert spec["paths"]["/users/"]["post"]["security"] == [{}, {"bearerAuth": []}]


def test_every_error_response_is_problem_json(spec: dict[str, Any]) -> None:
    checked = 0
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status == "default" or int(status) >= 400:
                content = resolve(spec, response)["content"]
                assert set(content) == {PROBLEM}, (path, method, status)
                schema = resolve(spec, content[PROBLEM]["schema"])
                assert {"type", "title", "status", "detail", "instance", "errors"} <= set(schema["properties"])
                checked += 1
    assert checked > len(OPERATIONS)


def test_success_responses_are_plain_json(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith("2") and status != "204":
                assert set(resolve(spec, response)["content"]) == {"application/json"}, (path, method, status)


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/token/", "post", {"200", "400", "401"}),
        ("/api/token/revoke/", "post", {"204", "401"}),
        ("/users/", "post", {"201", "400", "403", "409"}),
        ("/users/", "get", {"200", "403"}),
        ("/users/me/", "get", {"200", "401"}),
        ("/users/me/", "patch", {"200", "400", "401", "409", "412"}),
        ("/users/me/", "delete", {"204", "401", "412"}),
        ("/users/{user_id}/", "patch", {"200", "400", "403", "404", "409", "412"}),
        ("/products/", "get", {"200", "400", "401"}),
        ("/products/", "post", {"201", "400", "403", "409"}),
        ("/products/{product_id}/", "get", {"200", "404"}),
        ("/products/{product_id}/", "delete", {"204", "403", "404"}),
        ("/orders/", "post", {"201", "400", "403", "409"}),
        ("/orders/{order_id}/", "get", {"200", "404"}),
        ("/orders/{order_id}/cancel/", "post", {"200", "404", "409"}),
        ("/orders/{order_id}/fulfil/", "post", {"200", "403", "404", "409"}),
    ],
)
def test_operations_document_their_statuses(spec: dict[str, Any], path: str, method: str, statuses: set[str]) -> None:
    assert statuses <= set(spec["paths"][path][method]["responses"])


def test_lists_document_pagination(spec: dict[str, Any]) -> None:
    for path in ("/users/", "/products/", "/orders/"):
        operation = spec["paths"][path]["get"]
        parameters = {p["name"] for p in operation.get("parameters", [])}
        assert {"page", "page_size"} <= parameters, path
        assert "X-Pagination" in resolve(spec, operation["responses"]["200"])["headers"], path


def test_product_filters_are_documented(spec: dict[str, Any]) -> None:
    parameters = {p["name"] for p in spec["paths"]["/products/"]["get"]["parameters"]}

    assert {"price", "stock", "min_price", "max_price", "in_stock", "q", "sort"} <= parameters


def test_prices_are_documented_as_strings(spec: dict[str, Any]) -> None:
    product = spec["components"]["schemas"]["Product"]["properties"]

    assert product["price"]["type"] == "string"


def test_passwords_are_write_only(spec: dict[str, Any]) -> None:
    user = spec["components"]["schemas"]["User"]["properties"]

    assert "password" not in user


@pytest.mark.parametrize("path", ["/api/schema/redoc/", "/api/schema/swagger-ui/"])
def test_the_documentation_pages_are_html(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "/api/schema/" in response.get_data(as_text=True)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_token_answers_document_their_type_and_lifetime(spec: dict[str, Any]) -> None:
    for path in ("/api/token/", "/api/token/refresh/"):
        content = resolve(spec, spec["paths"][path]["post"]["responses"]["200"])["content"]["application/json"]
        pair = resolve(spec, content["schema"])
        assert set(pair["required"]) == {"access", "refresh", "token_type", "expires_in"}, path
        assert pair["properties"]["token_type"]["enum"] == ["Bearer"]
        assert pair["properties"]["expires_in"]["type"] == "integer"


def test_contact_fields_may_be_cleared_with_null(spec: dict[str, Any]) -> None:
    update = spec["components"]["schemas"]["UserUpdate"]["properties"]

    assert [name for name, field in update.items() if field.get("nullable")] == ["email", "age", "phone"]


def test_accounts_tell_whether_they_are_closed(spec: dict[str, Any]) -> None:
    user = spec["components"]["schemas"]["User"]["properties"]
    parameters = {p["name"]: p for p in spec["paths"]["/users/"]["get"]["parameters"]}

    assert user["active"]["type"] == "boolean"
    assert parameters["active"]["schema"]["type"] == "boolean"


def test_the_order_list_documents_its_sort_and_customer_filter(spec: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in spec["paths"]["/orders/"]["get"]["parameters"]}

    assert {"status", "sort", "customer", "page", "page_size"} <= set(parameters)
    assert parameters["sort"]["schema"]["default"] == "-created_at"
    assert "newest first" in parameters["sort"]["description"]
    assert "managers" in parameters["customer"]["description"].lower()
    assert "403" in spec["paths"]["/orders/"]["get"]["responses"]
