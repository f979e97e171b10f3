"""An order whose COMMIT lost its connection (a primary dying at that moment): the service can't
know whether it stands, and says so, with what to do: a 503 to retry with the same Idempotency-Key."""

from __future__ import annotations

from typing import NoReturn

import pytest
from flask import Flask
from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError

from shop.application.commands import PlaceOrder, ViewOrders
from shop.application.errors import OutcomeUnknown
from tests.support import container_of, replaced

from .conftest import Api
from .test_errors import assert_problem


def test_an_order_lost_at_commit_is_a_503_that_says_to_retry_with_the_same_key(
    app: Flask, api: Api, customer_token: str
) -> None:
    def lost(**_: object) -> NoReturn:
        raise OutcomeUnknown()

    with replaced(container_of(app).bus(), PlaceOrder, lost):
        response = api.call(
            "POST",
            "/orders/",
            customer_token,
            json={"items": [{"product": 1, "quantity": 1}]},
            headers={"Idempotency-Key": "k"},
        )

    body = assert_problem(response, 503, "/orders/")
    assert body["type"] == "urn:shop:problem:outcome-unknown"
    assert "same Idempotency-Key" in body["detail"]
    assert "nothing was changed" not in body["detail"]
    assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("error", [InternalError, InterfaceError, DBAPIError])
def test_any_database_error_that_lost_its_connection_is_a_503(
    app: Flask, api: Api, customer_token: str, error: type[DBAPIError]
) -> None:
    """The driver names a dropped connection in several ways; SQLAlchemy tells them all by
    connection_invalidated. Whatever the class, the database is unavailable: never a 500."""

    def lost(**_: object) -> NoReturn:
        raise error("SELECT 1", None, Exception("server closed the connection"), connection_invalidated=True)

    with replaced(container_of(app).bus(), ViewOrders, lost):
        response = api.call("GET", "/orders/", customer_token)

    body = assert_problem(response, 503, "/orders/")
    assert response.headers["Retry-After"] == "1"
    assert "busy or unreachable" in body["detail"]


def test_a_database_error_on_a_live_connection_stays_a_500(app: Flask, api: Api, customer_token: str) -> None:
    def bug(**_: object) -> NoReturn:
        raise InternalError("SELECT 1", None, Exception("cannot execute INSERT in a read-only transaction"))

    with replaced(container_of(app).bus(), ViewOrders, bug):
        response = api.call("GET", "/orders/", customer_token)

    assert_problem(response, 500, "/orders/")
