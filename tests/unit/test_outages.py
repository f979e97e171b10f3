"""A failing dependency is logged once with its traceback, then at most every few seconds with a count."""

from __future__ import annotations

import logging

import pytest

from shop.application.outages import QUIET_AFTER_S, OutageLog
from tests.fakes import MonotonicClock


@pytest.fixture
def clock() -> MonotonicClock:
    return MonotonicClock()


@pytest.fixture
def outage(clock: MonotonicClock) -> OutageLog:
    return OutageLog(logging.getLogger("test.outage"), "database unavailable", every_s=5, clock=clock)


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, bool]]:
    return [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]


def test_an_outage_is_one_traceback_then_a_count_every_few_seconds(
    outage: OutageLog, clock: MonotonicClock, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(800):  # an 8-second outage, 100 refused requests a second
        clock.now = 100 + n / 100
        outage.failed(ConnectionRefusedError("connection refused\nis the server running?"))

    assert lines(caplog) == [
        ("ERROR", "database unavailable: ConnectionRefusedError: connection refused", True),
        ("ERROR", "database unavailable: 500 more failures in the last 5s, the last: ConnectionRefusedError: "
         "connection refused", False),
    ]  # fmt: skip


def test_a_failure_long_after_the_last_is_a_new_outage_with_its_traceback(
    outage: OutageLog, clock: MonotonicClock, caplog: pytest.LogCaptureFixture
) -> None:
    outage.failed(TimeoutError())
    clock.now += QUIET_AFTER_S + 1
    outage.failed(TimeoutError())

    assert [with_traceback for _level, _message, with_traceback in lines(caplog)] == [True, True]


def test_recovery_is_told_once(outage: OutageLog, caplog: pytest.LogCaptureFixture) -> None:
    outage.recovered()
    outage.failed(OSError("down"))
    outage.failed(OSError("down"))
    assert outage.failing
    outage.recovered()
    outage.recovered()

    assert lines(caplog)[1:] == [
        ("WARNING", "database unavailable: working again (1 failures after the first went unlogged)", False)
    ]
    assert not outage.failing
