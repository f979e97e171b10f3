"""How a failing dependency is logged: once with its traceback when it starts failing, then at most
once every few seconds with how many failures there were since, never once per request. An 8-second
database outage under load used to write thousands of tracebacks; the operator needs the first one
and the count."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

REPEAT_EVERY_S = 5.0
# A failure after this long without one starts a new outage: it gets its traceback again.
QUIET_AFTER_S = 30.0


class OutageLog:
    """One per dependency and process (each gunicorn worker logs on its own), safe across threads."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        every_s: float = REPEAT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._what = what
        self._every = every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_failure: float | None = None
        self.failing = False  # read without the lock on every request: an attribute, not a call
        self._last_line = 0.0
        self._unreported = 0

    def failed(self, error: BaseException) -> None:
        with self._lock:
            now = self._clock()
            starting = self._last_failure is None or now - self._last_failure > QUIET_AFTER_S
            self._last_failure = now
            self.failing = True
            if starting:
                self._unreported = 0
                self._last_line = now
                self._log.error("%s: %s", self._what, _describe(error), exc_info=error)
                return
            self._unreported += 1
            if now - self._last_line < self._every:
                return
            count, self._unreported = self._unreported, 0
            since, self._last_line = now - self._last_line, now
        self._log.error(
            "%s: %d more failures in the last %.0fs, the last: %s", self._what, count, since, _describe(error)
        )

    def recovered(self) -> None:
        """The dependency works again: say so, once, and start afresh."""
        with self._lock:
            if self._last_failure is None:
                return
            self._last_failure = None
            self.failing = False
            count, self._unreported = self._unreported, 0
        self._log.warning("%s: working again (%d failures after the first went unlogged)", self._what, count)


def _describe(error: BaseException) -> str:
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
