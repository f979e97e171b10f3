"""Readiness: ready only when every dependency is."""

from __future__ import annotations

from shop.application.health import check_readiness
from tests.fakes import FakeProbe


def test_ready_when_every_dependency_is() -> None:
    readiness = check_readiness(probes=[FakeProbe("database"), FakeProbe("redis")])

    assert readiness.ready
    assert readiness.checks == {"database": "ok", "redis": "ok"}
    assert readiness.problems == {}


def test_not_ready_when_one_dependency_fails_and_every_one_is_asked() -> None:
    database, redis = FakeProbe("database", "unreachable"), FakeProbe("redis")

    readiness = check_readiness(probes=[database, redis])

    assert not readiness.ready
    assert readiness.checks == {"database": "unreachable", "redis": "ok"}
    assert readiness.problems == {"database": "unreachable"}
    assert (database.asked, redis.asked) == (1, 1)


def test_no_dependency_means_ready() -> None:
    assert check_readiness(probes=[]).ready
