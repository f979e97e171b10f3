"""Readers' WAL floors kept by this process (no REDIS_URL): read-your-writes holds per process."""

from __future__ import annotations

import threading


class MemoryPositions:
    def __init__(self) -> None:
        self._floors: dict[str, int] = {}
        self._lock = threading.Lock()

    def floor(self, readers: tuple[str, ...]) -> int | None:
        with self._lock:
            return max((self._floors.get(reader, 0) for reader in readers), default=0)

    def advance(self, position: int, readers: tuple[str, ...]) -> None:
        with self._lock:
            for reader in readers:
                if self._floors.get(reader, 0) < position:
                    self._floors[reader] = position
