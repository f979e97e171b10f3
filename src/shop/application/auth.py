from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shop.application.actors import Actor, TokenClaims
from shop.application.errors import AuthenticationFailed, Forbidden
from shop.application.messagebus import MessageBus
from shop.application.ports.attempts import Attempts, Limit
from shop.application.ports.services import Clock, IdGenerator, PasswordHasher
from shop.application.ports.tokens import RefreshToken
from shop.application.ports.unit_of_work import UnitOfWork
from shop.application.throttling import failed_login_key, take
from shop.application.views import judge
from shop.domain.events import LoginFailed, TokensRevoked
from shop.domain.users import User


@dataclass(frozen=True, slots=True)
class Session:
    """What a login or a refresh grants: the user and a new refresh token of a token family."""

    user: User
    refresh: RefreshToken


def login(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    clock: Clock,
    ids: IdGenerator,
    bus: MessageBus,
    attempts: Attempts,
    failure_limit: Limit,
    refresh_ttl: timedelta,
    username: str,
    password: str,
    managers_only: bool = False,
) -> Session:
    """Check the credentials and open a new token family; unknown users cost as much as wrong passwords.

    Each login counts as a failure of its username before the password is checked, and is refunded
    once the password proved right: logins sent at the same moment can't slip past failure_limit.
    managers_only (the console): a customer with the right password is told Forbidden, and gets no token.
    """
    attempt = take(attempts, failed_login_key(username), failure_limit, clock.now(), what="failed logins")
    with uow:
        user = uow.users.get_by_username(username)
    if user is None or not user.active:
        hasher.verify_dummy(password)
        bus.publish([LoginFailed(occurred_at=clock.now())])
        raise AuthenticationFailed()
    if not hasher.verify(user.password_hash, password):
        bus.publish([LoginFailed(occurred_at=clock.now())])
        raise AuthenticationFailed()
    attempts.refund(attempt)
    if managers_only and not user.is_manager:
        raise Forbidden("Only managers can sign in to the console.")
    upgraded = hasher.hash(password) if hasher.needs_rehash(user.password_hash) else None
    token = _new_refresh(user, family=ids.new_id(), ids=ids, clock=clock, ttl=refresh_ttl)
    with uow:
        if upgraded is not None:
            # Re-read: saving the copy read above would undo a password change or deactivation made meanwhile.
            current = uow.users.get(user.id) if user.id is not None else None
            if current is not None and current.password_hash == user.password_hash:
                current.rehash_password(upgraded)
                uow.users.save(current)
        uow.tokens.add_refresh(token)
        uow.commit()
    return Session(user, token)


def refresh(
    *,
    uow: UnitOfWork,
    clock: Clock,
    ids: IdGenerator,
    refresh_ttl: timedelta,
    claims: TokenClaims,
) -> Session:
    """Rotate a refresh token. A token used twice means it leaked: its whole family is revoked."""
    now = clock.now()
    with uow:
        used = uow.tokens.use_refresh(claims.jti, now)
        user = uow.users.get(used.user_id) if used is not None else None
        if user is None or not user.active or user.token_version != claims.token_version:
            # Reused, revoked or outdated: the whole family goes, access tokens included.
            uow.tokens.revoke_family(claims.family, now)
            uow.record(TokensRevoked(user_id=claims.user_id, occurred_at=now))
            token = None
        else:
            token = _new_refresh(user, family=claims.family, ids=ids, clock=clock, ttl=refresh_ttl)
            uow.tokens.add_refresh(token)
        uow.commit()
    if user is None or token is None:
        raise AuthenticationFailed("Token is invalid or has been revoked.")
    return Session(user, token)


def revoke(
    *,
    uow: UnitOfWork,
    clock: Clock,
    refresh: TokenClaims,
    access: TokenClaims | None = None,
    access_expires_at: datetime | None = None,
) -> None:
    """Log out: end the token family of a refresh token, and the access token presented with it."""
    now = clock.now()
    with uow:
        uow.tokens.revoke_family(refresh.family, now)
        if access is not None and access_expires_at is not None:
            uow.tokens.revoke_access(access.jti, access_expires_at)
        for user_id in {claims.user_id for claims in (refresh, access) if claims is not None}:
            uow.record(TokensRevoked(user_id=user_id, occurred_at=now))
        uow.commit()


def check_access(*, uow: UnitOfWork, claims: TokenClaims) -> Actor:
    """The actor behind a signed token, if the user still exists and nothing revoked the token."""
    with uow:
        state = uow.tokens.access_state(claims.user_id, claims.jti, claims.family)
    return judge(claims, state)  # the views' judgment (application/views.py)


def verify(*, uow: UnitOfWork, clock: Clock, claims: TokenClaims, is_refresh: bool) -> Actor:
    """A token is valid while its user may use it and, for a refresh token, until it is rotated or
    expires (a purged one is gone, hence not usable either)."""
    actor = check_access(uow=uow, claims=claims)
    if is_refresh:
        with uow:
            if not uow.tokens.is_refresh_usable(claims.jti, clock.now()):
                raise AuthenticationFailed("Token is invalid or has been revoked.")
    return actor


def purge_expired_tokens(*, uow: UnitOfWork, clock: Clock) -> int:
    with uow:
        count = uow.tokens.purge_expired(clock.now())
        uow.commit()
    return count


def purge_expired_attempts(*, attempts: Attempts, clock: Clock) -> int:
    return attempts.purge(clock.now())


def _new_refresh(user: User, *, family: str, ids: IdGenerator, clock: Clock, ttl: timedelta) -> RefreshToken:
    assert user.id is not None
    return RefreshToken(jti=ids.new_id(), family=family, user_id=user.id, expires_at=clock.now() + ttl)
