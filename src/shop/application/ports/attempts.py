"""Attempts counted against a limit: failed logins per username, password changes per account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` attempts within any `window`."""

    count: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Taken:
    """An attempt counted under `key`; `id` names it for a refund."""

    key: str
    id: str


@dataclass(frozen=True, slots=True)
class Refused:
    """No attempt left: the next one is free after `retry_after`."""

    retry_after: timedelta


class Attempts(Protocol):
    """Every process of the service counts in the same place (unless told to count in memory)."""

    def take(self, key: str, limit: Limit, now: datetime) -> Taken | Refused:
        """Count an attempt under key unless limit.count are counted in the window before now.

        Atomic: of attempts made at the same moment, no more than the limit are taken."""

    def refund(self, attempt: Taken) -> None:
        """Take back an attempt that turned out legitimate (a login with the right password)."""

    def purge(self, now: datetime) -> int:
        """Forget the attempts whose window has passed; returns how many."""
