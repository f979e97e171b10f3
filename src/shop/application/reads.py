"""The rule that decides where a read goes, and who is reading.

`choose` is the one place that decides: the SQL read router (adapters/sql/replicas.py) feeds it what
it last saw of each replica and the reader's floor, and opens a connection where it says.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from shop.application.ports.replicas import EVERYONE, Guarantee

# Who the request being handled is for (None: nobody signed in), set by the entrypoints with
# READER.set (C code: no project frame on the request path, which tests/api/test_request_path.py counts).
READER: ContextVar[int | None] = ContextVar("shop_reader", default=None)


def reading_as(user_id: int | None) -> None:
    READER.set(user_id)


def current_reader() -> int | None:
    return READER.get()


@dataclass(frozen=True, slots=True)
class ReplicaState:
    """What was last seen of a replica. replayed: its pg_last_wal_replay_lsn(), None when it could
    not be reached. caught_up_at: the latest moment (monotonic seconds) as of which it holds every
    commit the primary had acknowledged; None when it has not caught up with any moment seen."""

    name: str
    replayed: int | None
    caught_up_at: float | None


def floor_keys(guarantee: Guarantee, reader: int | None) -> tuple[str, ...]:
    """Whose floors a read must reach: the reader's own; for what is cached, every writer's too."""
    keys: tuple[str, ...] = () if reader is None else (str(reader),)
    if guarantee is Guarantee.EVERY_WRITE:
        keys += (EVERYONE,)
    return keys


def choose(
    guarantee: Guarantee,
    replicas: Sequence[ReplicaState],
    *,
    floor: int | None,
    now: float,
    max_lag_s: float,
    reader: int | None = None,
) -> str | None:
    """The replica to read from, or None for the primary.

    A replica qualifies when it is reachable, at most max_lag_s behind (bounded staleness for
    everyone) and has replayed the reader's floor (read-your-writes, monotonic reads). An unknown
    floor (the shared store is down) qualifies none. A reader keeps to the same replica while it
    qualifies (spread over the replicas by user id), so their reads never go back in time between two.
    """
    if guarantee is Guarantee.PRIMARY or floor is None:
        return None
    fit = [
        replica.name
        for replica in replicas
        if replica.replayed is not None
        and replica.replayed >= floor
        and replica.caught_up_at is not None
        and now - replica.caught_up_at <= max_lag_s
    ]
    if not fit:
        return None
    names = sorted(replica.name for replica in replicas)
    preferred = names[(reader or 0) % len(names)]
    return preferred if preferred in fit else sorted(fit)[0]
