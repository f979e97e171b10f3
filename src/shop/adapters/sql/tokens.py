"""Refresh tokens, revocations and the standing of access tokens, in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from shop.adapters.sql.connection import LazyConnection
from shop.adapters.sql.tables import refresh_tokens, revoked_tokens, users
from shop.application.ports.tokens import AccessState, RefreshToken
from shop.domain.users import Role

_ACCESS_STATE = select(
    users.c.role,
    users.c.active,
    users.c.token_version,
    or_(
        exists().where(revoked_tokens.c.jti == bindparam("jti")),
        exists().where(refresh_tokens.c.family == bindparam("family"), refresh_tokens.c.revoked_at.is_not(None)),
    ).label("revoked"),
).where(users.c.id == bindparam("user_id"))


class SqlTokenRepository:
    def __init__(self, conn: LazyConnection) -> None:
        self._conn = conn

    def add_refresh(self, token: RefreshToken) -> None:
        self._conn.execute(
            insert(refresh_tokens).values(
                jti=token.jti, family=token.family, user_id=token.user_id, expires_at=token.expires_at
            )
        )

    def use_refresh(self, jti: str, now: datetime) -> RefreshToken | None:
        statement = (
            update(refresh_tokens)
            .where(
                refresh_tokens.c.jti == jti,
                refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
                refresh_tokens.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(
                refresh_tokens.c.jti, refresh_tokens.c.family, refresh_tokens.c.user_id, refresh_tokens.c.expires_at
            )
        )
        row = self._conn.execute(statement).first()
        return RefreshToken(row.jti, row.family, row.user_id, row.expires_at) if row is not None else None

    def is_refresh_usable(self, jti: str, now: datetime) -> bool:
        usable = exists().where(
            refresh_tokens.c.jti == jti,
            refresh_tokens.c.used_at.is_(None),
            refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > now,
        )
        return bool(self._conn.execute(select(usable)).scalar_one())

    def revoke_family(self, family: str, now: datetime) -> None:
        self._conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family == family, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def revoke_access(self, jti: str, expires_at: datetime) -> None:
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        self._conn.execute(
            dialect.insert(revoked_tokens).values(jti=jti, expires_at=expires_at).on_conflict_do_nothing()
        )

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        row = self._conn.execute(_ACCESS_STATE, {"user_id": user_id, "jti": jti, "family": family}).first()
        return AccessState(Role(row.role), row.active, row.token_version, row.revoked) if row is not None else None

    def purge_expired(self, now: datetime) -> int:
        refresh = self._conn.execute(delete(refresh_tokens).where(refresh_tokens.c.expires_at <= now)).rowcount
        access = self._conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at <= now)).rowcount
        return refresh + access
