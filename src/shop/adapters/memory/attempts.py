"""Attempts counted in this process only: for the unit tests, and for RATELIMIT_STORAGE_URI=memory://."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime

from shop.application.ports.attempts import Limit, Refused, Taken


class MemoryAttempts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._expiries: dict[str, dict[str, datetime]] = {}  # key -> attempt id -> end of its window

    def take(self, key: str, limit: Limit, now: datetime) -> Taken | Refused:
        with self._lock:
            live = {i: end for i, end in self._expiries.get(key, {}).items() if end > now}
            if len(live) >= limit.count:
                self._expiries[key] = live
                return Refused(sorted(live.values())[len(live) - limit.count] - now)
            attempt = Taken(key, str(next(self._ids)))
            live[attempt.id] = now + limit.window
            self._expiries[key] = live
            return attempt

    def refund(self, attempt: Taken) -> None:
        with self._lock:
            self._expiries.get(attempt.key, {}).pop(attempt.id, None)

    def purge(self, now: datetime) -> int:
        with self._lock:
            purged = 0
            for key in list(self._expiries):
                live = {i: end for i, end in self._expiries[key].items() if end > now}
                purged += len(self._expiries[key]) - len(live)
                if live:
                    self._expiries[key] = live
                else:
                    del self._expiries[key]
            return purged


class Unlimited:
    """RATELIMIT_ENABLED=false (benchmarks only): every attempt is taken, none is counted."""

    def take(self, key: str, limit: Limit, now: datetime) -> Taken | Refused:
        return Taken(key, "")

    def refund(self, attempt: Taken) -> None:
        pass

    def purge(self, now: datetime) -> int:
        return 0
