"""An order whose COMMIT lost its connection (a primary dying at that moment): the service can't
know whether it stands, and says so, with what to do: a 503 to retry with the same Idempotency-Key."""

from __future__ import annotations

from typing import NoReturn

from dependency_injector import providers
from flask import Flask

from shop.application.errors import OutcomeUnknown
from tests.support import container_of

from .conftest import Api
from .test_errors import assert_problem


def test_an_order_lost_at_commit_is_a_503_that_says_to_retry_with_the_same_key(
    app: Flask, api: Api, customer_token: str
) -> None:
    def lost(**_: object) -> NoReturn:
        raise OutcomeUnknown()

    with container_of(app).place_order.override(providers.Callable(lost)):
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
