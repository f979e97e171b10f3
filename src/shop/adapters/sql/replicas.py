"""The read router: opens each read's connection on the primary or on a streaming replica, as
shop.application.reads.choose decides, and keeps the readers' floors (ports/replicas.py).

What it knows of the replicas comes from a poller thread of its own, at most every POLL_S: the
primary's WAL insert position (pg_current_wal_insert_lsn) with the moment it was read, then each replica's replay
position (pg_last_wal_replay_lsn). A replica that has replayed the position the primary had at
moment t holds every commit acknowledged before t: it is now - t behind. So routing a read costs no
round trip of its own to the databases; a reader's floor is one Redis round trip when it is shared.

After a signed-in user's write commits, and after their read, one statement on the same connection
tells how far the WAL was then (pg_current_wal_insert_lsn on the primary, the replay position on a
replica): that raises their floor, so their next read sees their write and nothing older than what
they saw. A replica that can't be reached is skipped until a poll reaches it again; a read whose
connection to it fails goes to the primary. A replica is never part of readiness.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from shop.application.outages import OutageLog
from shop.application.ports.replicas import EVERYONE, Guarantee, Positions
from shop.application.reads import ReplicaState, choose, current_reader, floor_keys

log = logging.getLogger("shop.adapters.replicas")

PRIMARY = "primary"
# How often each process looks at the primary's and the replicas' WAL positions.
POLL_S = 0.1
# The insert position, not pg_current_wal_lsn(): that one (the write position) was seen standing
# still at a page boundary while commits were acknowledged. Every acknowledged commit was inserted.
_INSERTED = text("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
_REPLAYED = text("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")


class ReadMetrics(Protocol):
    """What the router reports: reads by where they went, and each replica's lag (None: unreachable)."""

    def read_served(self, source: str) -> None: ...

    def replica_lag(self, replica: str, seconds: float | None) -> None: ...


class _Uncounted:
    def read_served(self, source: str) -> None:
        pass

    def replica_lag(self, replica: str, seconds: float | None) -> None:
        pass


@dataclass
class _Replica:
    name: str
    engine: Engine
    replayed: int | None = None
    caught_up_at: float | None = None
    outage: OutageLog | None = None


class ReadRouter:
    def __init__(
        self,
        primary: Engine,
        replicas: Mapping[str, Engine],
        positions: Positions,
        *,
        max_lag_ms: int = 1000,
        metrics: ReadMetrics | None = None,
        poll_s: float = POLL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """replicas: by name (what the metrics call them); primary: the engine reads fall back on."""
        self._primary = primary
        self._replicas = [
            _Replica(name, engine, outage=OutageLog(log, f"replica {name} unreachable; its reads go to the primary"))
            for name, engine in replicas.items()
        ]
        self._positions = positions
        self._max_lag_s = max_lag_ms / 1000
        self._metrics: ReadMetrics = metrics or _Uncounted()
        self._poll_s = poll_s
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()  # (moment, the primary's position then)
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._poller_pid = 0
        self._stopped = threading.Event()

    # Routing

    def open(self, guarantee: Guarantee, reader: int | None = None) -> tuple[str, Connection]:
        """A connection for one unit of work's reads, and where it is: PRIMARY or a replica's name."""
        self._start()
        name = None
        if guarantee is not Guarantee.PRIMARY:
            floor = self._positions.floor(floor_keys(guarantee, reader))
            name = choose(
                guarantee, self.states(), floor=floor, now=self._clock(), max_lag_s=self._max_lag_s, reader=reader
            )
        if name is not None:
            replica = next(r for r in self._replicas if r.name == name)
            try:
                connection = replica.engine.connect()
            except SQLAlchemyError as error:
                self._lost(replica, error)
            else:
                self._metrics.read_served(name)
                return name, connection
        self._metrics.read_served(PRIMARY)
        return PRIMARY, self._primary.connect()

    def after_read(self, source: str, connection: Connection, reader: int | None) -> None:
        """A signed-in user's read is over: what they saw is their floor from now on."""
        if reader is None:
            return
        self._advance(connection, _INSERTED if source == PRIMARY else _REPLAYED, (str(reader),))

    def after_write(self, connection: Connection) -> None:
        """A signed-in user's write has committed: they, and the shared cache, read nothing older."""
        reader = current_reader()
        if reader is not None:
            self._advance(connection, _INSERTED, (str(reader), EVERYONE))

    def _advance(self, connection: Connection, statement: object, readers: tuple[str, ...]) -> None:
        try:
            position = connection.execute(statement).scalar_one()  # type: ignore[call-overload]
        except SQLAlchemyError as error:
            log.warning("WAL position not read (%s): this reader's floor stays where it was", type(error).__name__)
            return
        self._positions.advance(int(position), readers)

    # What the router knows of the replicas

    def states(self) -> list[ReplicaState]:
        with self._lock:
            return [ReplicaState(r.name, r.replayed, r.caught_up_at) for r in self._replicas]

    def poll(self) -> None:
        """Look once at the primary's position, then at each replica's (the poller's round)."""
        moment = self._clock()
        try:
            with self._primary.connect() as connection:
                primary = int(connection.execute(_INSERTED).scalar_one())
        except SQLAlchemyError:
            primary = None  # the moments already seen still bound the replicas' lag; they only age
        with self._lock:
            if primary is not None:
                self._samples.append((moment, primary))
            keep_after = moment - self._max_lag_s - 1.0
            while len(self._samples) > 1 and self._samples[0][0] < keep_after:
                self._samples.popleft()
        for replica in self._replicas:
            try:
                with replica.engine.connect() as connection:
                    replayed = connection.execute(_REPLAYED).scalar()
            except SQLAlchemyError as error:
                self._lost(replica, error)
                continue
            if replica.outage is not None:
                replica.outage.recovered()
            with self._lock:
                replica.replayed = at = None if replayed is None else int(replayed)  # None: not a standby
                caught = [moment for moment, position in self._samples if at is not None and position <= at]
                if caught:
                    replica.caught_up_at = max(caught[-1], replica.caught_up_at or caught[-1])
            self._report(replica)

    def _lost(self, replica: _Replica, error: BaseException) -> None:
        with self._lock:
            replica.replayed = None
        if replica.outage is not None:
            replica.outage.failed(error)
        self._report(replica)

    def _report(self, replica: _Replica) -> None:
        if replica.replayed is None or replica.caught_up_at is None:
            self._metrics.replica_lag(replica.name, None)
        else:
            self._metrics.replica_lag(replica.name, max(0.0, self._clock() - replica.caught_up_at))

    def _start(self) -> None:
        """The poller starts with the first read of the process (a gunicorn worker, after its fork)."""
        if (self._poller is not None and self._poller_pid == os.getpid()) or not self._replicas:
            return
        with self._lock:
            if self._poller is not None and self._poller_pid == os.getpid():
                return
            self._poller_pid = os.getpid()  # a process forked since has no poller thread of its own
            self._poller = threading.Thread(target=self._run, name="shop-replica-poller", daemon=True)
            self._poller.start()
        self.poll()  # the first read of the process knows where the replicas are

    def _run(self) -> None:
        while not self._stopped.wait(self._poll_s):
            try:
                self.poll()
            except Exception:  # the poller must outlive anything one round meets
                log.exception("replica poll failed")

    def stop(self) -> None:
        self._stopped.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        for replica in self._replicas:
            replica.engine.dispose()
