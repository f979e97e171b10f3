"""When something fails behind a console page: the API's status and words, as a page; never a trace."""

from __future__ import annotations

from typing import NoReturn

import pytest
from sqlalchemy.exc import OperationalError

from shop.application.commands import ShowOverview
from shop.container import Container
from tests.console.conftest import Console, text_of
from tests.support import replaced


def test_a_database_outage_is_a_503_page_that_says_nothing_changed(manager: Console, container: Container) -> None:
    def unreachable(**_: object) -> NoReturn:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    with replaced(container.bus(), ShowOverview, unreachable):
        response = manager.get("/console/")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.mimetype == "text/html"
    assert "The database is busy or unreachable; nothing was changed. Retry shortly." in text_of(response)


def test_a_bug_is_a_500_page_with_a_request_id_and_no_trace(
    manager: Console, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**_: object) -> NoReturn:
        raise ZeroDivisionError("secret detail")

    with replaced(container.bus(), ShowOverview, broken):
        response = manager.get("/console/")

    page = text_of(response)
    assert response.status_code == 500
    assert "Quote request id" in page
    assert "secret detail" not in page and "Traceback" not in page
    assert any(record.exc_info for record in caplog.records)  # the trace is in the log, not the page
