from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shop.application.actors import Actor
from shop.application.errors import AlreadyExists, Conflict, Forbidden, NotFound, check_precondition
from shop.application.ports.attempts import Attempts, Limit
from shop.application.ports.paging import Listing, Page
from shop.application.ports.services import Clock, PasswordHasher
from shop.application.ports.unit_of_work import UnitOfWork
from shop.application.ports.users import UserQuery
from shop.application.throttling import password_change_key, take
from shop.domain.errors import InvalidValue
from shop.domain.users import KEEP, Role, Unchanged, User, check_account, or_none


@dataclass(frozen=True, slots=True)
class UserChanges:
    """Fields to change. username, password: None leaves them. email, age, phone: KEEP (not given)
    leaves them, None clears them."""

    username: str | None = None
    password: str | None = None
    email: str | Unchanged | None = KEEP
    age: int | Unchanged | None = KEEP
    phone: str | Unchanged | None = KEEP

    def is_empty(self) -> bool:
        contact = (self.email, self.age, self.phone)
        return self.username is None and self.password is None and all(value is KEEP for value in contact)


def _taken(username: str) -> AlreadyExists:
    return AlreadyExists("username", f"A user named {username!r} already exists.")


def register_user(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    clock: Clock,
    actor: Actor | None,
    username: str,
    password: str,
    email: str | None = None,
    age: int | None = None,
    phone: str | None = None,
    is_manager: bool = False,
) -> User:
    """Sign up a customer; only a manager may create another manager."""
    if is_manager and not (actor and actor.is_manager):
        raise Forbidden("Only a manager can create a manager account.")
    check_account(username=username, password=password, email=email, age=age, phone=phone)
    with uow:
        if uow.users.get_by_username(username) is not None:
            raise _taken(username)
    user = User.register(
        username=username,
        password_hash=hasher.hash(password),
        role=Role.MANAGER if is_manager else Role.CUSTOMER,
        email=email,
        age=age,
        phone=phone,
        now=clock.now(),
    )
    with uow:
        uow.users.add(user)
        uow.commit()
    return user


def list_users(*, uow: UnitOfWork, actor: Actor, query: UserQuery) -> Listing[User]:
    if not actor.is_manager:
        raise Forbidden("Only managers can list users.")
    with uow:
        return uow.users.list(query)


def usernames(*, uow: UnitOfWork, actor: Actor, user_ids: Sequence[int]) -> dict[int, str]:
    """Who the accounts behind a page of orders are, by id, in one read, closed accounts too."""
    if not actor.is_manager:
        raise Forbidden("Only managers can list users.")
    with uow:
        return uow.users.usernames(user_ids)


def get_user(*, uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    """One's own account; managers read any, closed ones too (their orders stay)."""
    if not actor.is_manager and actor.user_id != user_id:
        raise Forbidden("You can only see your own account.")
    with uow:
        user = uow.users.get(user_id)
    if user is None or not (user.active or actor.is_manager):
        raise NotFound("User", user_id)
    return user


def update_user(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    clock: Clock,
    attempts: Attempts,
    password_change_limit: Limit,
    actor: Actor,
    user_id: int,
    changes: UserChanges,
    precondition: Callable[[User], bool] | None = None,
) -> User:
    """Change one's own account; a new password revokes every token of the user.

    Every check (the fields, If-Match, a taken username, the limit on password changes) comes before
    the new password is hashed, with no transaction open; the write checks If-Match and the username
    again under the row lock, since both may have changed while the hash was computed."""
    if actor.user_id != user_id:
        raise Forbidden("You can only change your own account.")
    if changes.is_empty():
        raise InvalidValue.single("body", "Give at least one field to change.")
    new_hash = None
    if changes.password is None:
        _check_fields(changes, known_as="")
    else:
        with uow:
            current = _active(uow, user_id)
            _check_fields(changes, known_as=current.username if changes.username is None else "")
            _check_changes(uow, current, changes, precondition)
        take(attempts, password_change_key(user_id), password_change_limit, clock.now(), what="password changes")
        new_hash = hasher.hash(changes.password)
    with uow:
        user = _active(uow, user_id, for_update=True)
        _check_changes(uow, user, changes, precondition)
        if changes.username is not None:
            user.rename(changes.username)
        if new_hash is not None:
            user.change_password(new_hash, clock.now())
        user.change_contact(email=changes.email, age=changes.age, phone=changes.phone)
        uow.users.save(user)
        uow.commit()
    return user


def _check_fields(changes: UserChanges, *, known_as: str) -> None:
    check_account(
        username=changes.username,
        password=changes.password,
        email=or_none(changes.email),
        age=or_none(changes.age),
        phone=or_none(changes.phone),
        known_as=known_as,
    )


def _active(uow: UnitOfWork, user_id: int, *, for_update: bool = False) -> User:
    user = uow.users.get_for_update(user_id) if for_update else uow.users.get(user_id)
    if user is None or not user.active:
        raise NotFound("User", user_id)
    return user


def _check_changes(
    uow: UnitOfWork, user: User, changes: UserChanges, precondition: Callable[[User], bool] | None
) -> None:
    """If-Match holds on the account as stored, and the new name, if any, is free."""
    check_precondition(precondition, user, "account")
    if changes.username is not None and changes.username != user.username:
        holder = uow.users.get_by_username(changes.username)
        if holder is not None and holder.id != user.id:  # "alice" may become "Alice"
            raise _taken(changes.username)


def delete_user(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    user_id: int,
    precondition: Callable[[User], bool] | None = None,
) -> None:
    """Close one's own account: no more logins, every token dead, orders kept."""
    if actor.user_id != user_id:
        raise Forbidden("You can only delete your own account.")
    with uow:
        user = uow.users.get_for_update(user_id)
        if user is None or not user.active:
            raise NotFound("User", user_id)
        check_precondition(precondition, user, "account")
        user.deactivate(clock.now())
        uow.users.save(user)
        uow.commit()


def demote_manager(*, uow: UnitOfWork, clock: Clock, username: str, force: bool = False) -> tuple[User, bool]:
    """Operator command: make a manager a customer again. Returns (user, changed). The last active
    manager stays one unless forced: nobody would be left to run the catalog or see the orders."""
    with uow:
        user = uow.users.get_by_username(username)
        if user is None or not user.active:
            raise NotFound("User", username)
        changed = user.is_manager
        if changed and not force and uow.users.list(UserQuery(page=Page(1, 1), role=Role.MANAGER)).total <= 1:
            raise Conflict(f"{user.username!r} is the last manager: nobody would be left to manage the shop.")
        user.demote(clock.now())
        uow.users.save(user)
        uow.commit()
    return user, changed


def make_manager(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    clock: Clock,
    username: str,
    password: str | None,
) -> tuple[User, bool]:
    """Operator command: promote an existing user, or create a manager. Returns (user, created)."""
    with uow:
        existing = uow.users.get_by_username(username)
        if existing is not None:
            if not existing.active:
                raise NotFound("User", username)
            existing.promote(clock.now())
            uow.users.save(existing)
            uow.commit()
    if existing is not None:
        return existing, False
    if password is None:
        raise InvalidValue.single("password", "A password is needed to create a new manager.")
    check_account(username=username, password=password)
    user = User.register(username=username, password_hash=hasher.hash(password), role=Role.MANAGER, now=clock.now())
    with uow:
        uow.users.add(user)
        uow.commit()
    return user, True
