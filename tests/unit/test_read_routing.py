"""Where a read goes: the rule (shop.application.reads.choose), on what the router last saw."""

from __future__ import annotations

from shop.adapters.memory.positions import MemoryPositions
from shop.application.ports.replicas import EVERYONE, Guarantee
from shop.application.reads import ReplicaState, choose, current_reader, floor_keys, reading_as

NOW = 100.0
MAX_LAG_S = 1.0


def replica(name: str = "a", *, replayed: int | None = 500, behind_s: float | None = 0.2) -> ReplicaState:
    return ReplicaState(name, replayed, None if behind_s is None else NOW - behind_s)


def route(
    guarantee: Guarantee, *replicas: ReplicaState, floor: int | None = 0, reader: int | None = None
) -> str | None:
    return choose(guarantee, replicas, floor=floor, now=NOW, max_lag_s=MAX_LAG_S, reader=reader)


def test_writes_and_guards_always_read_the_primary() -> None:
    assert route(Guarantee.PRIMARY, replica()) is None


def test_a_recent_replica_serves_anyone_unidentified() -> None:
    assert route(Guarantee.READ_YOUR_WRITES, replica()) == "a"


def test_a_replica_further_behind_than_the_bound_is_skipped() -> None:
    assert route(Guarantee.READ_YOUR_WRITES, replica(behind_s=1.01)) is None
    assert route(Guarantee.READ_YOUR_WRITES, replica(behind_s=1.01), replica("b", behind_s=0.5)) == "b"


def test_a_replica_that_never_caught_up_with_a_moment_seen_is_skipped() -> None:
    assert route(Guarantee.READ_YOUR_WRITES, replica(behind_s=None)) is None


def test_an_unreachable_replica_is_skipped() -> None:
    assert route(Guarantee.READ_YOUR_WRITES, replica(replayed=None)) is None
    assert route(Guarantee.READ_YOUR_WRITES, replica(replayed=None), replica("b")) == "b"


def test_a_user_reads_from_a_replica_only_once_it_replayed_their_last_write_or_read() -> None:
    assert route(Guarantee.READ_YOUR_WRITES, replica(replayed=499), floor=500, reader=7) is None
    assert route(Guarantee.READ_YOUR_WRITES, replica(replayed=500), floor=500, reader=7) == "a"
    assert route(Guarantee.READ_YOUR_WRITES, replica(replayed=499), replica("b", replayed=600), floor=500) == "b"


def test_an_unknown_floor_reads_the_primary() -> None:
    assert route(Guarantee.READ_YOUR_WRITES, replica(), floor=None, reader=7) is None


def test_a_user_keeps_to_one_replica_while_it_qualifies() -> None:
    replicas = (replica("a"), replica("b"), replica("c"))
    assert {route(Guarantee.READ_YOUR_WRITES, *replicas, reader=4) for _ in range(5)} == {"b"}
    assert (
        route(Guarantee.READ_YOUR_WRITES, replica("a"), replica("b", replayed=10), replica("c"), floor=400, reader=4)
        == "a"
    )


def test_what_is_cached_for_everyone_must_hold_every_write() -> None:
    assert floor_keys(Guarantee.EVERY_WRITE, None) == (EVERYONE,)
    assert floor_keys(Guarantee.EVERY_WRITE, 7) == ("7", EVERYONE)
    assert floor_keys(Guarantee.READ_YOUR_WRITES, 7) == ("7",)
    assert floor_keys(Guarantee.READ_YOUR_WRITES, None) == ()


def test_floors_only_rise() -> None:
    positions = MemoryPositions()
    assert positions.floor(("7",)) == 0
    positions.advance(500, ("7", EVERYONE))
    positions.advance(300, ("7",))
    assert positions.floor(("7",)) == 500
    positions.advance(900, ("8",))
    assert positions.floor(("7", "8")) == 900
    assert positions.floor(()) == 0


def test_the_reader_is_whoever_the_request_is_for() -> None:
    reading_as(7)
    assert current_reader() == 7
    reading_as(None)
    assert current_reader() is None
