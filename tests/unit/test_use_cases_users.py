from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.application.actors import Actor
from shop.application.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    TooManyAttempts,
)
from shop.application.ports.paging import Page
from shop.application.ports.users import UserQuery
from shop.application.users import (
    UserChanges,
)
from shop.domain.errors import InvalidValue
from shop.domain.users import Role, User
from tests.fakes import PASSWORD, FakeClock, FakeHasher
from tests.support import UseCases

from .conftest import actor_of


def stored(store: MemoryStore, user_id: int | None) -> User:
    assert user_id is not None
    return store.state.users[user_id]


# register_user


def test_register_creates_a_customer(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore
) -> None:
    user = use.register_user(actor=None, username="carol", password=PASSWORD, email="c@example.com", age=30)
    assert user.id == 1
    saved = stored(store, user.id)
    assert saved.username == "carol"
    assert saved.role is Role.CUSTOMER
    assert saved.password_hash == "plain$" + PASSWORD
    assert (saved.email, saved.age, saved.phone) == ("c@example.com", 30, None)
    assert saved.active
    assert saved.token_version == 0
    assert hasher.hash_calls == [PASSWORD]


def test_register_refuses_a_taken_username(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore
) -> None:
    use.register_user(actor=None, username="carol", password=PASSWORD)
    with pytest.raises(AlreadyExists, match="carol") as caught:
        use.register_user(actor=None, username="carol", password="another password")
    assert caught.value.field == "username"
    assert len(store.state.users) == 1
    assert store.state.users[1].password_hash == "plain$" + PASSWORD


@pytest.mark.parametrize(
    ("username", "password", "field"),
    [("bad name", PASSWORD, "username"), ("carol", "short", "password"), ("carol", "CAROL", "password")],
)
def test_register_validates_before_storing(
    use: UseCases,
    uow: MemoryUnitOfWork,
    hasher: FakeHasher,
    store: MemoryStore,
    username: str,
    password: str,
    field: str,
) -> None:
    with pytest.raises(InvalidValue) as caught:
        use.register_user(actor=None, username=username, password=password)
    assert field in caught.value.errors
    assert store.state.users == {}
    assert hasher.hash_calls == []


def test_anonymous_cannot_register_a_manager(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore
) -> None:
    with pytest.raises(Forbidden):
        use.register_user(actor=None, username="mallory", password=PASSWORD, is_manager=True)
    assert store.state.users == {}


def test_customer_cannot_make_themselves_or_anyone_a_manager(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    with pytest.raises(Forbidden):
        use.register_user(actor=customer, username="mallory", password=PASSWORD, is_manager=True)
    assert [u.username for u in store.state.users.values()] == ["alice"]
    assert stored(store, customer.user_id).role is Role.CUSTOMER


def test_manager_can_register_a_manager(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, manager: Actor
) -> None:
    user = use.register_user(actor=manager, username="deputy", password=PASSWORD, is_manager=True)
    assert user.role is Role.MANAGER


# list_users / get_user


def test_only_managers_list_users(use: UseCases, uow: MemoryUnitOfWork, customer: Actor) -> None:
    with pytest.raises(Forbidden):
        use.list_users(actor=customer, query=UserQuery())


def test_list_users_pages_active_users_in_id_order(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_user: Callable[..., User]
) -> None:
    for name in ("u1", "u2", "u3", "u4"):
        add_user(name)
    add_user("gone", active=False)
    users, total = use.list_users(actor=manager, query=UserQuery(page=Page(number=2, size=2)))
    assert total == 5
    assert [u.username for u in users] == ["u2", "u3"]
    users, total = use.list_users(actor=manager, query=UserQuery(page=Page(number=9, size=2)))
    assert (users, total) == ([], 5)


def test_managers_list_the_accounts_of_one_role(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_user: Callable[..., User]
) -> None:
    add_user("carol")
    add_user("deputy", role=Role.MANAGER)
    add_user("caroline")

    customers = use.list_users(actor=manager, query=UserQuery(role=Role.CUSTOMER))
    managers = use.list_users(actor=manager, query=UserQuery(role=Role.MANAGER))
    carols = use.list_users(actor=manager, query=UserQuery(role=Role.CUSTOMER, q="carol"))

    assert ([u.username for u in customers.items], customers.total) == (["carol", "caroline"], 2)
    assert [u.username for u in managers.items] == ["boss", "deputy"]
    assert carols.total == 2


def test_managers_learn_the_usernames_of_a_page_s_accounts(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_user: Callable[..., User]
) -> None:
    carol, gone = add_user("carol"), add_user("gone", active=False)

    names = use.usernames(actor=manager, user_ids=[carol.id, gone.id, 999, carol.id])

    assert names == {carol.id: "carol", gone.id: "gone"}  # a closed account's orders are still its own


def test_customers_learn_no_usernames(use: UseCases, uow: MemoryUnitOfWork, customer: Actor) -> None:
    with pytest.raises(Forbidden):
        use.usernames(actor=customer, user_ids=[customer.user_id])


def test_customer_sees_only_their_own_account(
    use: UseCases, uow: MemoryUnitOfWork, customer: Actor, other_customer: Actor
) -> None:
    assert use.get_user(actor=customer, user_id=customer.user_id).username == "alice"
    with pytest.raises(Forbidden):
        use.get_user(actor=customer, user_id=other_customer.user_id)


def test_manager_sees_any_account(use: UseCases, uow: MemoryUnitOfWork, manager: Actor, customer: Actor) -> None:
    assert use.get_user(actor=manager, user_id=customer.user_id).username == "alice"
    with pytest.raises(NotFound):
        use.get_user(actor=manager, user_id=999)


def test_a_manager_sees_a_closed_account_its_owner_does_not(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, customer: Actor
) -> None:
    use.delete_user(actor=customer, user_id=customer.user_id)
    closed = use.get_user(actor=manager, user_id=customer.user_id)
    assert (closed.username, closed.active) == ("alice", False)
    with pytest.raises(NotFound):
        use.get_user(actor=customer, user_id=customer.user_id)


def test_managers_list_closed_accounts_when_they_ask(
    use: UseCases, uow: MemoryUnitOfWork, manager: Actor, add_user: Callable[..., User]
) -> None:
    add_user("u1")
    add_user("gone", active=False)
    add_user("left", active=False)
    closed, total = use.list_users(actor=manager, query=UserQuery(active=False))
    assert ([u.username for u in closed], total) == (["gone", "left"], 2)
    closed, total = use.list_users(actor=manager, query=UserQuery(active=False, q="LEF"))
    assert ([u.username for u in closed], total) == (["left"], 1)


# update_user


@pytest.mark.parametrize("who", ["other_customer", "manager"])
def test_nobody_updates_another_account(
    use: UseCases,
    request: pytest.FixtureRequest,
    uow: MemoryUnitOfWork,
    hasher: FakeHasher,
    store: MemoryStore,
    customer: Actor,
    who: str,
) -> None:
    actor: Actor = request.getfixturevalue(who)
    with pytest.raises(Forbidden):
        use.update_user(actor=actor, user_id=customer.user_id, changes=UserChanges(email="x@y.z"))
    assert stored(store, customer.user_id).email is None


def test_empty_changes_are_refused(use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, customer: Actor) -> None:
    with pytest.raises(InvalidValue) as caught:
        use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges())
    assert list(caught.value.errors) == ["body"]


def test_update_profile_fields_keeps_tokens(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    changes = UserChanges(username="alice2", email="a@example.com", age=41, phone="+886 2 1234")
    user = use.update_user(actor=customer, user_id=customer.user_id, changes=changes)
    saved = stored(store, customer.user_id)
    assert (saved.username, saved.email, saved.age, saved.phone) == ("alice2", "a@example.com", 41, "+886 2 1234")
    assert saved.token_version == 0
    assert saved.password_hash == "plain$" + PASSWORD
    assert user.username == "alice2"


def test_contact_fields_given_as_none_are_cleared_and_those_not_given_kept(
    use: UseCases, store: MemoryStore, customer: Actor
) -> None:
    use.update_user(
        actor=customer, user_id=customer.user_id, changes=UserChanges(email="a@example.com", age=41, phone="+886 2")
    )

    use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(email=None, age=None))

    saved = stored(store, customer.user_id)
    assert (saved.email, saved.age, saved.phone) == (None, None, "+886 2")


def test_clearing_is_a_change_and_every_problem_is_told_before_hashing(
    use: UseCases, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(phone=None))
    with pytest.raises(InvalidValue) as caught:
        use.update_user(
            actor=customer, user_id=customer.user_id, changes=UserChanges(password="short", email="nope", age=None)
        )
    assert sorted(caught.value.errors) == ["email", "password"]
    assert hasher.hash_calls == []


def test_keeping_the_same_username_is_fine(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, customer: Actor
) -> None:
    changes = UserChanges(username="alice", age=5)
    assert use.update_user(actor=customer, user_id=customer.user_id, changes=changes).age == 5


def test_changing_only_the_case_of_ones_own_username_is_fine(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(username="ALICE"))

    assert stored(store, customer.user_id).username == "ALICE"


def test_update_to_a_taken_username_in_another_case_is_refused(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, customer: Actor, other_customer: Actor
) -> None:
    with pytest.raises(AlreadyExists):
        use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(username="Bob"))


def test_update_to_a_taken_username_changes_nothing(
    use: UseCases,
    uow: MemoryUnitOfWork,
    hasher: FakeHasher,
    store: MemoryStore,
    customer: Actor,
    other_customer: Actor,
) -> None:
    with pytest.raises(AlreadyExists) as caught:
        use.update_user(
            actor=customer,
            user_id=customer.user_id,
            changes=UserChanges(username="bob", email="new@example.com"),
        )
    assert caught.value.field == "username"
    saved = stored(store, customer.user_id)
    assert (saved.username, saved.email) == ("alice", None)


def test_update_validates_the_username(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, customer: Actor
) -> None:
    with pytest.raises(InvalidValue) as caught:
        use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(username="no way"))
    assert list(caught.value.errors) == ["username"]


def test_password_change_rehashes_and_revokes_tokens(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(password="new secret!"))
    saved = stored(store, customer.user_id)
    assert saved.password_hash == "plain$new secret!"
    assert saved.token_version == 1


@pytest.mark.parametrize(
    "changes",
    [
        UserChanges(password="ALICE"),  # too short and the current username
        UserChanges(password="Alice.Liddell"),
        UserChanges(username="newname1", password="NEWNAME1"),
        UserChanges(password="1234567890"),
    ],
)
def test_password_policy_on_update(
    use: UseCases,
    uow: MemoryUnitOfWork,
    hasher: FakeHasher,
    store: MemoryStore,
    add_user: Callable[..., User],
    changes: UserChanges,
) -> None:
    user = add_user("Alice.Liddell")
    with pytest.raises(InvalidValue) as caught:
        use.update_user(actor=actor_of(user), user_id=user.id or 0, changes=changes)
    assert list(caught.value.errors) == ["password"]
    saved = stored(store, user.id)
    assert saved.password_hash == "plain$" + PASSWORD
    assert saved.username == "Alice.Liddell"
    assert saved.token_version == 0


def test_update_of_a_deactivated_account_is_not_found(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, customer: Actor
) -> None:
    use.delete_user(actor=customer, user_id=customer.user_id)
    with pytest.raises(NotFound):
        use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(age=3))


# delete_user


@pytest.mark.parametrize("who", ["other_customer", "manager"])
def test_nobody_deletes_another_account(
    use: UseCases, request: pytest.FixtureRequest, uow: MemoryUnitOfWork, store: MemoryStore, customer: Actor, who: str
) -> None:
    with pytest.raises(Forbidden):
        use.delete_user(actor=request.getfixturevalue(who), user_id=customer.user_id)
    assert stored(store, customer.user_id).active


def test_delete_deactivates_and_revokes_tokens(
    use: UseCases, uow: MemoryUnitOfWork, store: MemoryStore, customer: Actor
) -> None:
    use.delete_user(actor=customer, user_id=customer.user_id)
    saved = stored(store, customer.user_id)
    assert not saved.active
    assert saved.token_version == 1
    with pytest.raises(NotFound):
        use.delete_user(actor=customer, user_id=customer.user_id)
    assert stored(store, customer.user_id).token_version == 1


# make_manager


def test_make_manager_promotes_an_existing_user(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    user, created = use.make_manager(username="alice", password=None)
    assert not created
    assert user.id == customer.user_id
    saved = stored(store, customer.user_id)
    assert saved.role is Role.MANAGER
    assert saved.token_version == 1
    assert saved.password_hash == "plain$" + PASSWORD
    assert hasher.hash_calls == []


def test_make_manager_creates_a_new_manager(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore
) -> None:
    user, created = use.make_manager(username="root", password=PASSWORD)
    assert created
    saved = stored(store, user.id)
    assert (saved.username, saved.role, saved.password_hash) == ("root", Role.MANAGER, "plain$" + PASSWORD)


@pytest.mark.parametrize(("username", "password"), [("root", None), ("root", "root"), ("bad name", PASSWORD)])
def test_make_manager_validates_a_new_account(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore, username: str, password: str | None
) -> None:
    with pytest.raises(InvalidValue):
        use.make_manager(username=username, password=password)
    assert store.state.users == {}


def test_make_manager_refuses_a_deactivated_user(
    use: UseCases, uow: MemoryUnitOfWork, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    use.delete_user(actor=customer, user_id=customer.user_id)
    with pytest.raises(NotFound):
        use.make_manager(username="alice", password=PASSWORD)
    assert stored(store, customer.user_id).role is Role.CUSTOMER
    assert len(store.state.users) == 1


# demote_manager


def test_demote_manager_makes_a_customer_and_ends_their_tokens(
    use: UseCases, store: MemoryStore, manager: Actor, add_user: Callable[..., User]
) -> None:
    add_user("deputy", role=Role.MANAGER)

    user, changed = use.demote_manager(username="boss")
    assert user.id == manager.user_id

    assert changed
    saved = stored(store, manager.user_id)
    assert (saved.role, saved.token_version) == (Role.CUSTOMER, 1)


def test_demoting_a_customer_changes_nothing(use: UseCases, store: MemoryStore, customer: Actor) -> None:
    user, changed = use.demote_manager(username="alice")
    assert user.id == customer.user_id

    assert not changed
    assert stored(store, customer.user_id).token_version == 0


def test_the_last_manager_is_not_demoted_unless_forced(use: UseCases, store: MemoryStore, manager: Actor) -> None:
    with pytest.raises(Conflict, match="'boss' is the last manager"):
        use.demote_manager(username="boss")
    assert stored(store, manager.user_id).role is Role.MANAGER

    _, changed = use.demote_manager(username="boss", force=True)

    assert changed and stored(store, manager.user_id).role is Role.CUSTOMER


def test_a_manager_is_demoted_while_another_remains(
    use: UseCases, store: MemoryStore, manager: Actor, add_user: Callable[..., User]
) -> None:
    add_user("deputy", role=Role.MANAGER)
    add_user("gone", role=Role.MANAGER, active=False)  # a closed account manages nothing

    use.demote_manager(username="deputy")

    with pytest.raises(Conflict):
        use.demote_manager(username="boss")


def test_demote_manager_refuses_an_unknown_user(use: UseCases) -> None:
    with pytest.raises(NotFound):
        use.demote_manager(username="nobody")


# password changes: every check before the hash, and a limit of their own


def test_a_stale_if_match_refuses_a_password_change_before_hashing(
    use: UseCases, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    with pytest.raises(PreconditionFailed):
        use.update_user(
            actor=customer,
            user_id=customer.user_id,
            changes=UserChanges(password="a-brand-new-secret"),
            precondition=lambda _current: False,
        )
    assert hasher.hash_calls == []
    assert stored(store, customer.user_id).token_version == 0


def test_a_taken_username_refuses_a_password_change_before_hashing(
    use: UseCases, hasher: FakeHasher, customer: Actor, other_customer: Actor
) -> None:
    with pytest.raises(AlreadyExists):
        use.update_user(
            actor=customer, user_id=customer.user_id, changes=UserChanges(username="bob", password="a-new-secret")
        )
    assert hasher.hash_calls == []


def test_a_change_made_while_the_password_was_hashed_is_not_overwritten(
    use: UseCases, hasher: FakeHasher, store: MemoryStore, customer: Actor
) -> None:
    """If-Match is checked again under the row lock: the hash takes long enough for someone to act."""

    def meanwhile(_password: str) -> None:
        use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(email="meanwhile@example.com"))

    hasher.on_hash = meanwhile

    with pytest.raises(PreconditionFailed):
        use.update_user(
            actor=customer,
            user_id=customer.user_id,
            changes=UserChanges(password="a-brand-new-secret"),
            precondition=lambda current: current.email is None,
        )
    saved = stored(store, customer.user_id)
    assert (saved.email, saved.password_hash) == ("meanwhile@example.com", "plain$" + PASSWORD)


def test_password_changes_are_limited_per_account_before_hashing(
    use: UseCases, hasher: FakeHasher, customer: Actor, other_customer: Actor, clock: FakeClock
) -> None:
    def change(actor: Actor, n: int) -> None:
        use.update_user(actor=actor, user_id=actor.user_id, changes=UserChanges(password=f"new-secret-{n}"))

    for n in range(5):
        change(customer, n)
    with pytest.raises(TooManyAttempts) as refused:
        change(customer, 5)
    change(other_customer, 0)  # the limit is the account's
    use.update_user(actor=customer, user_id=customer.user_id, changes=UserChanges(email="still@example.com"))

    assert len(hasher.hash_calls) == 6
    assert refused.value.retry_after_seconds == 3600
    clock.advance(timedelta(hours=1))
    change(customer, 6)
