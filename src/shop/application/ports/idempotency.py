from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredPlacement:
    """An order placed with an Idempotency-Key, kept so that a retry gets the first answer again."""

    user_id: int
    key: str
    fingerprint: str
    created_at: datetime
    # The order as first shown (a representations.Rendered, its JSON kept); None: the key is claimed by
    # a transaction that has not kept its answer (a release before this one could commit that).
    order: Mapping[str, Any] | None


class IdempotencyRepository(Protocol):
    def claim(self, placement: StoredPlacement, stale_before: datetime) -> StoredPlacement | None:
        """Claim a key for this transaction, before anything else is done with it: None when it is now
        this transaction's (unused, or used longer ago than stale_before: that use is forgotten), else
        the placement that holds it. A concurrent transaction claiming the same key is waited for (the
        unique index; SQLite's write lock): when it commits, its placement is returned; when it rolls
        back, the key is this transaction's."""

    def keep(self, placement: StoredPlacement) -> None:
        """Keep the answer to the request that claimed the key, in the same transaction."""

    def get(self, user_id: int, key: str) -> StoredPlacement | None: ...

    def delete(self, user_id: int, key: str) -> None: ...

    def purge_older_than(self, moment: datetime) -> int: ...
