"""Accounts in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.connection import LazyConnection
from shop.adapters.sql.rows import is_unique_violation, kept_key, listing
from shop.adapters.sql.tables import users
from shop.application.errors import AlreadyExists
from shop.application.ports.paging import Listing
from shop.application.ports.users import UserQuery
from shop.application.unit_of_work import EventCollector
from shop.domain.text import comparison_key, search_key
from shop.domain.users import Role, User

_SAVE_USER = (
    update(users)
    .where(users.c.id == bindparam("user_id"))
    .values(username_key=kept_key(users.c.username, users.c.username_key))
)


class SqlUserRepository:
    def __init__(self, conn: LazyConnection, collector: EventCollector) -> None:
        self._conn = conn
        self._collector = collector

    def add(self, user: User) -> None:
        try:
            values = {**self._values(user), "username_key": comparison_key(user.username)}
            user.id = self._conn.execute(insert(users).values(**values).returning(users.c.id)).scalar_one()
        except IntegrityError as error:
            raise self._translate(error, user) from None
        self._collector.take_events(user)

    def get(self, user_id: int) -> User | None:
        row = self._conn.execute(select(users).where(users.c.id == user_id)).first()
        return self._to_user(row) if row is not None else None

    def get_for_update(self, user_id: int) -> User | None:
        row = self._conn.execute(select(users).where(users.c.id == user_id).with_for_update()).first()
        return self._to_user(row) if row is not None else None

    def get_by_username(self, username: str) -> User | None:
        row = self._conn.execute(select(users).where(users.c.username_key == search_key(username, "username"))).first()
        return self._to_user(row) if row is not None else None

    def list(self, query: UserQuery) -> Listing[User]:
        statement = select(users).where(users.c.active == query.active)
        if query.q:
            statement = statement.where(users.c.username_key.contains(search_key(query.q, "q"), autoescape=True))
        if query.role is not None:
            statement = statement.where(users.c.role == query.role.value)
        return listing(self._conn, statement.order_by(users.c.id), query.page, self._to_user)

    def usernames(self, user_ids: Sequence[int]) -> dict[int, str]:
        if not user_ids:
            return {}
        rows = self._conn.execute(select(users.c.id, users.c.username).where(users.c.id.in_(sorted(set(user_ids)))))
        return {row.id: row.username for row in rows}

    def save(self, user: User) -> None:
        try:
            keys = {"kept_text": user.username, "new_key": comparison_key(user.username)}
            self._conn.execute(_SAVE_USER, {"user_id": user.id, **self._values(user), **keys})
        except IntegrityError as error:
            raise self._translate(error, user) from None
        self._collector.take_events(user)

    @staticmethod
    def _translate(error: IntegrityError, user: User) -> Exception:
        if is_unique_violation(error):
            return AlreadyExists("username", f"A user named {user.username!r} already exists.")
        return error

    @staticmethod
    def _values(user: User) -> dict[str, Any]:
        return {
            "username": user.username,
            "password_hash": user.password_hash,
            "email": user.email,
            "age": user.age,
            "phone": user.phone,
            "role": user.role.value,
            "active": user.active,
            "token_version": user.token_version,
        }

    @staticmethod
    def _to_user(row: Row[Any]) -> User:
        return User(
            id=row.id,
            username=row.username,
            password_hash=row.password_hash,
            email=row.email,
            age=row.age,
            phone=row.phone,
            role=Role(row.role),
            active=row.active,
            token_version=row.token_version,
        )
