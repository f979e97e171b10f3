"""Where a read may go: the primary, or a streaming replica that is recent enough for that read.

Positions are PostgreSQL WAL positions (LSNs) as integers. A reader is a user id, or EVERYONE for
what is shared by all (the catalog cache): its floor is how far in the WAL its last write, and its
last read, reached. A replica serves a read only once it has replayed past the reader's floor.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol


class Guarantee(Enum):
    """The guarantee a read needs; the container says which one each use case's reads need."""

    # Writes, and the reads that decide a write or guard access: stock under the lock, idempotency
    # keys, token standing and revocation, login, If-Match checks, the relay.
    PRIMARY = "primary"
    # A user's reads: they see their own writes at once and never go back in time; anyone
    # unidentified reads data at most REPLICA_MAX_LAG_MS old.
    READ_YOUR_WRITES = "read-your-writes"
    # What is stored in the shared cache for everyone: it must hold every write committed so far,
    # or a stale value would stay cached under the version that write bumped.
    EVERY_WRITE = "every-write"


EVERYONE = "*"


class Positions(Protocol):
    """Each reader's floor, shared by every worker and instance (Redis) or kept by this process."""

    def floor(self, readers: tuple[str, ...]) -> int | None:
        """The highest floor of these readers, 0 when none is known; None when it can't be read."""

    def advance(self, position: int, readers: tuple[str, ...]) -> None:
        """Raise these readers' floors to position (never lower them)."""
