from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

from shop.adapters.memory.store import MemoryState
from shop.application.errors import KeyInUse
from shop.application.ports.idempotency import StoredPlacement


class MemoryIdempotencyRepository:
    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def get(self, user_id: int, key: str) -> StoredPlacement | None:
        return self._state().responses.get((user_id, key))

    def keep(self, placement: StoredPlacement) -> None:
        responses = self._state().responses
        if (placement.user_id, placement.key) in responses:
            raise KeyInUse()
        responses[(placement.user_id, placement.key)] = copy.deepcopy(placement)

    def delete(self, user_id: int, key: str) -> None:
        self._state().responses.pop((user_id, key), None)

    def purge_older_than(self, moment: datetime) -> int:
        responses = self._state().responses
        old = [ident for ident, stored in responses.items() if stored.created_at < moment]
        for ident in old:
            del responses[ident]
        return len(old)
