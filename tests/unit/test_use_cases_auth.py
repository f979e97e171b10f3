from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.adapters.memory.attempts import MemoryAttempts
from shop.application import auth
from shop.application.actors import Actor, TokenClaims
from shop.application.auth import Session
from shop.application.errors import AuthenticationFailed, Forbidden, TooManyAttempts
from shop.application.messagebus import MessageBus
from shop.application.ports.attempts import Limit
from shop.application.throttling import failed_login_key
from shop.application.users import UserChanges
from shop.domain.users import Role, User
from tests.fakes import PASSWORD, START, CounterIds, FakeClock, FakeHasher
from tests.support import UseCases

TTL = timedelta(days=7)


@pytest.fixture
def alice(add_user: Callable[..., User]) -> User:
    return add_user("alice")


@pytest.fixture
def do_login(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, clock: FakeClock, ids: CounterIds
) -> Callable[..., Session]:
    def run(username: str = "alice", password: str = PASSWORD) -> Session:
        signed_in: Session = use.login(username=username, password=password)
        return signed_in

    return run


@pytest.fixture
def do_refresh(
    use: UseCases, uow: MemoryUnitOfWork, clock: FakeClock, ids: CounterIds
) -> Callable[[TokenClaims], Session]:
    return lambda claims: use.refresh(claims=claims)


def refresh_claims(session: Session) -> TokenClaims:
    return TokenClaims(
        user_id=session.user.id or 0,
        token_version=session.user.token_version,
        jti=session.refresh.jti,
        family=session.refresh.family,
    )


def access_claims(session: Session, jti: str = "access-1") -> TokenClaims:
    return TokenClaims(
        user_id=session.user.id or 0, token_version=session.user.token_version, jti=jti, family=session.refresh.family
    )


def family_revoked(uow: MemoryUnitOfWork, user: User, family: str) -> bool:
    with uow:
        state = uow.tokens.access_state(user.id or 0, "any-jti", family)
    assert state is not None
    return state.revoked


# login


def test_login_opens_a_token_family(
    alice: User, do_login: Callable[..., Session], store: MemoryStore, hasher: FakeHasher
) -> None:
    session = do_login()
    assert session.user.id == alice.id
    token = session.refresh
    assert (token.family, token.jti, token.user_id) == ("id-1", "id-2", alice.id)
    assert token.expires_at == START + TTL
    assert store.state.refresh_tokens[token.jti].token == token
    assert hasher.dummy_calls == []
    assert store.state.users[alice.id or 0].password_hash == "plain$" + PASSWORD


def test_each_login_gets_its_own_family(alice: User, do_login: Callable[..., Session]) -> None:
    assert do_login().refresh.family != do_login().refresh.family


def test_wrong_password_fails(alice: User, do_login: Callable[..., Session], store: MemoryStore) -> None:
    with pytest.raises(AuthenticationFailed):
        do_login(password="wrong password")
    assert store.state.refresh_tokens == {}


def test_a_managers_only_login_refuses_a_customer_and_opens_no_family(
    alice: User, use: UseCases, store: MemoryStore
) -> None:
    with pytest.raises(Forbidden):
        use.login(username="alice", password=PASSWORD, managers_only=True)
    assert store.state.refresh_tokens == {}


def test_a_managers_only_login_checks_the_password_first(alice: User, use: UseCases) -> None:
    """A wrong password says only that: whether the account is a manager's is not told."""
    with pytest.raises(AuthenticationFailed):
        use.login(username="alice", password="wrong password", managers_only=True)


def test_a_managers_only_login_lets_a_manager_in(use: UseCases, add_user: Callable[..., User]) -> None:
    add_user("boss", role=Role.MANAGER)

    assert use.login(username="boss", password=PASSWORD, managers_only=True).user.username == "boss"


def test_unknown_user_costs_a_dummy_verify(do_login: Callable[..., Session], hasher: FakeHasher) -> None:
    with pytest.raises(AuthenticationFailed):
        do_login(username="nobody", password="whatever1")
    assert hasher.dummy_calls == ["whatever1"]
    assert hasher.verify_calls == []


def test_deactivated_user_cannot_log_in(
    use: UseCases,
    alice: User,
    uow: MemoryUnitOfWork,
    do_login: Callable[..., Session],
    hasher: FakeHasher,
    store: MemoryStore,
) -> None:
    use.delete_user(actor=Actor(alice.id or 0, Role.CUSTOMER), user_id=alice.id or 0)
    with pytest.raises(AuthenticationFailed):
        do_login()
    assert hasher.dummy_calls == [PASSWORD]
    assert store.state.refresh_tokens == {}


def test_login_rehashes_an_outdated_hash_without_revoking_tokens(
    alice: User, do_login: Callable[..., Session], hasher: FakeHasher, store: MemoryStore
) -> None:
    hasher.scheme = "v2"
    do_login()
    saved = store.state.users[alice.id or 0]
    assert saved.password_hash == "v2$" + PASSWORD
    assert saved.token_version == 0
    assert hasher.hash_calls == [PASSWORD]


def test_login_leaves_a_current_hash_alone(
    alice: User, do_login: Callable[..., Session], hasher: FakeHasher, store: MemoryStore
) -> None:
    do_login()
    assert hasher.hash_calls == []
    assert store.state.users[alice.id or 0].password_hash == "plain$" + PASSWORD


def test_rehash_does_not_undo_a_password_change_made_meanwhile(
    use: UseCases,
    alice: User,
    do_login: Callable[..., Session],
    hasher: FakeHasher,
    store: MemoryStore,
    new_uow: Callable[[], MemoryUnitOfWork],
) -> None:
    """While login computes the slow new hash, the user changes the password in another request."""
    hasher.scheme = "v2"

    def concurrent_password_change(password: str) -> None:
        hasher.on_hash = None
        use.update_user(
            actor=Actor(alice.id or 0, Role.CUSTOMER),
            user_id=alice.id or 0,
            changes=UserChanges(password="brand new secret"),
        )

    hasher.on_hash = concurrent_password_change
    do_login()
    saved = store.state.users[alice.id or 0]
    assert saved.password_hash == "v2$brand new secret"
    assert saved.token_version == 1


def test_rehash_does_not_reactivate_an_account_closed_meanwhile(
    use: UseCases,
    alice: User,
    do_login: Callable[..., Session],
    hasher: FakeHasher,
    store: MemoryStore,
    new_uow: Callable[[], MemoryUnitOfWork],
) -> None:
    hasher.scheme = "v2"
    hasher.on_hash = lambda _: use.delete_user(actor=Actor(alice.id or 0, Role.CUSTOMER), user_id=alice.id or 0)
    with contextlib.suppress(AuthenticationFailed):  # failing or not, the closed account must stay closed
        do_login()
    saved = store.state.users[alice.id or 0]
    assert not saved.active
    assert saved.token_version == 1


# refresh


def test_refresh_rotates_within_the_family(
    alice: User, do_login: Callable[..., Session], do_refresh: Callable[[TokenClaims], Session], clock: FakeClock
) -> None:
    first = do_login()
    clock.advance(timedelta(hours=1))
    second = do_refresh(refresh_claims(first))
    assert second.refresh.family == first.refresh.family
    assert second.refresh.jti != first.refresh.jti
    assert second.refresh.expires_at == START + timedelta(hours=1) + TTL
    third = do_refresh(refresh_claims(second))
    assert third.refresh.family == first.refresh.family


def test_refresh_token_reuse_revokes_the_whole_family(
    use: UseCases,
    alice: User,
    do_login: Callable[..., Session],
    do_refresh: Callable[[TokenClaims], Session],
    uow: MemoryUnitOfWork,
) -> None:
    first = do_login()
    second = do_refresh(refresh_claims(first))
    other_family = do_login()
    assert not family_revoked(uow, alice, first.refresh.family)
    with pytest.raises(AuthenticationFailed):
        do_refresh(refresh_claims(first))
    assert family_revoked(uow, alice, first.refresh.family)
    with pytest.raises(AuthenticationFailed):
        do_refresh(refresh_claims(second))  # the thief's or the owner's newer token is dead too
    with pytest.raises(AuthenticationFailed):
        use.check_access(claims=access_claims(second))
    assert not family_revoked(uow, alice, other_family.refresh.family)
    do_refresh(refresh_claims(other_family))


def test_unknown_refresh_token_fails_and_revokes_its_family(
    alice: User, do_login: Callable[..., Session], do_refresh: Callable[[TokenClaims], Session], store: MemoryStore
) -> None:
    session = do_login()
    with pytest.raises(AuthenticationFailed):
        do_refresh(TokenClaims(user_id=alice.id or 0, token_version=0, jti="forged", family=session.refresh.family))
    assert store.state.revoked_families == {session.refresh.family}
    with pytest.raises(AuthenticationFailed):
        do_refresh(refresh_claims(session))


@pytest.mark.parametrize("event", ["password", "deactivate", "promote"])
def test_refresh_fails_after_the_user_revoked_every_token(
    use: UseCases,
    alice: User,
    do_login: Callable[..., Session],
    do_refresh: Callable[[TokenClaims], Session],
    uow: MemoryUnitOfWork,
    event: str,
) -> None:
    session = do_login()
    revoke_everything(event, use, alice)
    with pytest.raises(AuthenticationFailed):
        do_refresh(refresh_claims(session))
    assert family_revoked(uow, alice, session.refresh.family)


def revoke_everything(event: str, use: UseCases, user: User) -> None:
    actor = Actor(user.id or 0, Role.CUSTOMER)
    if event == "password":
        use.update_user(actor=actor, user_id=actor.user_id, changes=UserChanges(password="n3w pass"))
    elif event == "deactivate":
        use.delete_user(actor=actor, user_id=actor.user_id)
    else:
        use.make_manager(username=user.username, password=None)


# check_access / revoke


def test_check_access_returns_the_actor(
    use: UseCases, alice: User, do_login: Callable[..., Session], uow: MemoryUnitOfWork
) -> None:
    actor = use.check_access(claims=access_claims(do_login()))
    assert actor == Actor(alice.id or 0, Role.CUSTOMER)
    assert not actor.is_manager


@pytest.mark.parametrize("event", ["password", "deactivate", "promote"])
def test_check_access_fails_after_the_user_revoked_every_token(
    use: UseCases, alice: User, do_login: Callable[..., Session], uow: MemoryUnitOfWork, hasher: FakeHasher, event: str
) -> None:
    claims = access_claims(do_login())
    revoke_everything(event, use, alice)
    with pytest.raises(AuthenticationFailed):
        use.check_access(claims=claims)


def test_check_access_after_promotion_with_a_new_login(
    use: UseCases, alice: User, do_login: Callable[..., Session], uow: MemoryUnitOfWork, hasher: FakeHasher
) -> None:
    use.make_manager(username="alice", password=None)
    assert use.check_access(claims=access_claims(do_login())).is_manager


def test_check_access_fails_for_an_unknown_user(use: UseCases, uow: MemoryUnitOfWork) -> None:
    with pytest.raises(AuthenticationFailed):
        use.check_access(claims=TokenClaims(user_id=404, token_version=0, jti="j", family="f"))


def test_revoke_ends_the_family_and_the_access_token(
    use: UseCases,
    alice: User,
    do_login: Callable[..., Session],
    do_refresh: Callable[[TokenClaims], Session],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
) -> None:
    session = do_login()
    other = do_login()
    access = access_claims(session, jti="access-9")
    use.revoke(
        refresh=refresh_claims(session),
        access=access,
        access_expires_at=START + timedelta(minutes=15),
    )
    with pytest.raises(AuthenticationFailed):
        use.check_access(claims=access)
    with pytest.raises(AuthenticationFailed):
        use.check_access(claims=TokenClaims(alice.id or 0, 0, "access-9", family="unrelated"))
    with pytest.raises(AuthenticationFailed):
        do_refresh(refresh_claims(session))
    assert use.check_access(claims=access_claims(other, jti="access-10")).user_id == alice.id


def test_revoke_without_access_token_ends_the_family_only(
    use: UseCases,
    alice: User,
    do_login: Callable[..., Session],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
) -> None:
    session = do_login()
    use.revoke(refresh=refresh_claims(session))
    assert store.state.revoked_families == {session.refresh.family}
    assert store.state.revoked_access == {}


def test_purge_removes_only_expired_tokens(
    use: UseCases,
    alice: User,
    do_login: Callable[..., Session],
    uow: MemoryUnitOfWork,
    clock: FakeClock,
    store: MemoryStore,
) -> None:
    old = do_login()
    use.revoke(
        refresh=TokenClaims(user_id=alice.id or 0, token_version=0, jti="r1", family="f"),
        access=TokenClaims(user_id=alice.id or 0, token_version=0, jti="a1", family="f"),
        access_expires_at=START + timedelta(minutes=15),
    )
    assert use.purge_tokens() == 0
    clock.advance(timedelta(days=1))
    assert use.purge_tokens() == 1
    assert store.state.revoked_access == {}
    fresh = do_login()
    clock.advance(TTL - timedelta(days=1))
    assert use.purge_tokens() == 1
    assert set(store.state.refresh_tokens) == {fresh.refresh.jti}
    assert old.refresh.jti not in store.state.refresh_tokens


# the limit on failed logins (5 per minute and username, counted before the password is checked)


def password_checks(hasher: FakeHasher) -> int:
    return len(hasher.verify_calls) + len(hasher.dummy_calls)


def outcome(login: Callable[[], object]) -> str:
    try:
        login()
    except AuthenticationFailed:
        return "401"
    except Forbidden:
        return "403"
    except TooManyAttempts:
        return "429"
    return "200"


def test_simultaneous_wrong_passwords_reach_the_password_check_five_times_at_most(
    alice: User, use: UseCases, hasher: FakeHasher
) -> None:
    start = threading.Barrier(20)

    def guess(n: int) -> str:
        start.wait()
        return outcome(lambda: use.login(username="alice", password=f"guess-number-{n}"))

    with ThreadPoolExecutor(20) as pool:
        outcomes = Counter(pool.map(guess, range(20)))

    assert outcomes == {"401": 5, "429": 15}
    assert password_checks(hasher) == 5


def test_sequential_wrong_passwords_reach_the_password_check_five_times_a_minute(
    alice: User, use: UseCases, hasher: FakeHasher, clock: FakeClock
) -> None:
    outcomes = [outcome(lambda: use.login(username="alice", password="wrong password")) for _ in range(30)]
    clock.advance(timedelta(seconds=61))
    after_a_minute = outcome(lambda: use.login(username="alice", password="wrong password"))

    assert outcomes == ["401"] * 5 + ["429"] * 25
    assert after_a_minute == "401"
    assert password_checks(hasher) == 6


def test_a_refused_login_says_when_to_retry(alice: User, use: UseCases, clock: FakeClock) -> None:
    for _ in range(5):
        outcome(lambda: use.login(username="alice", password="wrong password"))
        clock.advance(timedelta(seconds=2))

    with pytest.raises(TooManyAttempts) as refused:
        use.login(username="alice", password=PASSWORD)

    assert refused.value.retry_after_seconds == 50  # the first failure, 10 s ago, leaves the window then
    assert "Too many failed logins" in str(refused.value)


def test_a_refused_login_reads_no_user_and_checks_no_password(
    alice: User, use: UseCases, hasher: FakeHasher, clock: FakeClock, ids: CounterIds
) -> None:
    attempts = MemoryAttempts()
    limit = Limit(1, timedelta(minutes=1))
    attempts.take(failed_login_key("alice"), limit, clock.now())

    class Untouchable(MemoryUnitOfWork):
        def __enter__(self) -> Untouchable:
            raise AssertionError("the user was read")

    with pytest.raises(TooManyAttempts):
        auth.login(
            uow=Untouchable(MemoryStore()),
            hasher=hasher,
            clock=clock,
            ids=ids,
            bus=MessageBus(),
            attempts=attempts,
            failure_limit=limit,
            refresh_ttl=TTL,
            username="alice",
            password=PASSWORD,
        )
    assert password_checks(hasher) == 0


def test_right_passwords_do_not_count_as_failures(alice: User, use: UseCases) -> None:
    successes = [outcome(lambda: use.login(username="alice", password=PASSWORD)) for _ in range(10)]
    failures = [outcome(lambda: use.login(username="alice", password="wrong password")) for _ in range(6)]

    assert successes == ["200"] * 10
    assert failures == ["401"] * 5 + ["429"]


def test_a_customer_signing_in_to_the_console_with_the_right_password_is_no_failure(alice: User, use: UseCases) -> None:
    for _ in range(6):
        assert outcome(lambda: use.login(username="alice", password=PASSWORD, managers_only=True)) == "403"
    assert outcome(lambda: use.login(username="alice", password=PASSWORD)) == "200"


def test_failures_count_for_the_username_whatever_its_case(alice: User, use: UseCases) -> None:
    for name in ("ALICE", "Alice", "alice", "aLiCe", "ALICE"):
        assert outcome(partial(use.login, username=name, password="wrong password")) == "401"

    assert outcome(lambda: use.login(username="alice", password=PASSWORD)) == "429"
    assert outcome(lambda: use.login(username="bob", password="wrong password")) == "401"
