from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from shop.adapters.memory.store import MemoryState
from shop.application.ports.idempotency import StoredPlacement


class MemoryIdempotencyRepository:
    """The unit of work holds the store's lock: a claim is never concurrent with another."""

    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def claim(self, placement: StoredPlacement, stale_before: datetime) -> StoredPlacement | None:
        responses = self._state().responses
        held = responses.get((placement.user_id, placement.key))
        if held is not None and held.created_at >= stale_before:
            return held
        responses[(placement.user_id, placement.key)] = replace(placement, order=None)
        return None

    def keep(self, placement: StoredPlacement) -> None:
        self._state().responses[(placement.user_id, placement.key)] = copy.deepcopy(placement)

    def get(self, user_id: int, key: str) -> StoredPlacement | None:
        return self._state().responses.get((user_id, key))

    def delete(self, user_id: int, key: str) -> None:
        self._state().responses.pop((user_id, key), None)

    def purge_older_than(self, moment: datetime) -> int:
        responses = self._state().responses
        old = [ident for ident, stored in responses.items() if stored.created_at < moment]
        for ident in old:
            del responses[ident]
        return len(old)
