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
    order: Mapping[str, Any] | None  # the order as first shown; None while the first request still runs


class IdempotencyRepository(Protocol):
    def get(self, user_id: int, key: str) -> StoredPlacement | None: ...

    def keep(self, placement: StoredPlacement) -> None:
        """Keep the answer to a request made with a key, in the transaction of its order. KeyInUse (by
        keep() or at the latest by commit()) when the key is taken, a concurrent holder's transaction
        being waited for first."""

    def delete(self, user_id: int, key: str) -> None: ...

    def purge_older_than(self, moment: datetime) -> int: ...
