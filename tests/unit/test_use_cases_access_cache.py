"""Every use case that changes whether a user's tokens work forgets the user's cached standing,
after committing; the access check reads through the cache."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shop.application.auth import TokenClaims, check_access, login, refresh, revoke
from shop.application.errors import AuthenticationFailed
from shop.application.ports import AccessState
from shop.application.users import UserChanges, delete_user, make_manager, update_user

from .conftest import PASSWORD, actor_of, transaction_ended

TTL = timedelta(days=7)


class RecordingAccessCache:
    def __init__(self, store) -> None:
        self.store = store
        self.forgotten: list[int] = []
        self.reads = 0

    def state(self, user_id: int, jti: str, family: str, load: Callable[[], AccessState | None]) -> AccessState | None:
        self.reads += 1
        return load()

    def forget_user(self, user_id: int) -> None:
        assert transaction_ended(self.store), "forgot the user while the transaction was still open"
        self.forgotten.append(user_id)


@pytest.fixture
def cache(store) -> RecordingAccessCache:
    return RecordingAccessCache(store)


@pytest.fixture
def session(add_user, uow, hasher, clock, ids):
    add_user("alice")
    return login(uow=uow, hasher=hasher, clock=clock, ids=ids, refresh_ttl=TTL, username="alice", password=PASSWORD)


def claims(session, jti: str) -> TokenClaims:
    user = session.user
    return TokenClaims(user_id=user.id, token_version=user.token_version, jti=jti, family=session.refresh.family)


def test_the_access_check_reads_through_the_cache(uow, cache, session):
    actor = check_access(uow=uow, claims=claims(session, "a1"), access_cache=cache)
    assert actor.user_id == session.user.id
    assert cache.reads == 1


def test_account_changes_forget_the_user(uow, hasher, cache, session):
    user_id = session.user.id
    actor = actor_of(session.user)
    update_user(
        uow=uow,
        hasher=hasher,
        actor=actor,
        user_id=user_id,
        changes=UserChanges(password="a-new-passw0rd"),
        access_cache=cache,
    )
    make_manager(uow=uow, hasher=hasher, username="alice", password=None, access_cache=cache)
    delete_user(uow=uow, actor=actor, user_id=user_id, access_cache=cache)
    assert cache.forgotten == [user_id, user_id, user_id]


def test_logout_forgets_the_user(uow, clock, cache, session):
    revoke(uow=uow, clock=clock, refresh=claims(session, session.refresh.jti), access_cache=cache)
    assert cache.forgotten == [session.user.id]


def test_a_reused_refresh_token_forgets_the_user(uow, clock, ids, cache, session):
    token = claims(session, session.refresh.jti)
    refresh(uow=uow, clock=clock, ids=ids, refresh_ttl=TTL, claims=token, access_cache=cache)
    assert cache.forgotten == []

    with pytest.raises(AuthenticationFailed):
        refresh(uow=uow, clock=clock, ids=ids, refresh_ttl=TTL, claims=token, access_cache=cache)
    assert cache.forgotten == [session.user.id]
