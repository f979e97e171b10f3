from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

from shop.adapters.memory.store import MemoryState, page_of, stored
from shop.application.errors import AlreadyExists
from shop.application.ports.paging import Listing
from shop.application.ports.users import UserQuery
from shop.application.unit_of_work import EventCollector
from shop.domain.text import comparison_key, search_key
from shop.domain.users import User


class MemoryUserRepository:
    def __init__(self, state: Callable[[], MemoryState], collector: EventCollector) -> None:
        self._state = state
        self._collector = collector

    def add(self, user: User) -> None:
        state = self._state()
        self._check_unique(state, user)
        user.id = state.allocate("users")
        state.users[user.id] = stored(user, self._collector)

    def get(self, user_id: int) -> User | None:
        return copy.deepcopy(self._state().users.get(user_id))

    def get_for_update(self, user_id: int) -> User | None:
        return self.get(user_id)  # the unit of work holds the store's lock already

    def get_by_username(self, username: str) -> User | None:
        key = search_key(username, "username")
        found = next((u for u in self._state().users.values() if comparison_key(u.username) == key), None)
        return copy.deepcopy(found)

    def list(self, query: UserQuery) -> Listing[User]:
        needle = search_key(query.q, "q") if query.q else ""
        users = (u for _, u in sorted(self._state().users.items()))
        return page_of(
            (
                u
                for u in users
                if u.active is query.active
                and needle in comparison_key(u.username)
                and (query.role is None or u.role is query.role)
            ),
            query.page,
        )

    def usernames(self, user_ids: Sequence[int]) -> dict[int, str]:
        users = self._state().users
        return {uid: users[uid].username for uid in user_ids if uid in users}

    def save(self, user: User) -> None:
        assert user.id is not None
        state = self._state()
        self._check_unique(state, user)
        state.users[user.id] = stored(user, self._collector)

    @staticmethod
    def _check_unique(state: MemoryState, user: User) -> None:
        key = comparison_key(user.username)  # as the databases' unique index on username_key
        if any(comparison_key(u.username) == key and u.id != user.id for u in state.users.values()):
            raise AlreadyExists("username", f"A user named {user.username!r} already exists.")
