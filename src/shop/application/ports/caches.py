"""The shared read cache (Redis): rendered bodies of reads, and the standing of access tokens.

Everything cached lives under a version counter; the event handlers bump the counters of what a
committed change touched (`invalidate`, `forget_user`) before the command returns, so a read that
starts after a write has returned never sees the old state, on any worker or instance (see
docs/decisions.md, "Catalog cache in Redis").
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, Protocol

from shop.application.ports.tokens import AccessState

TokenKey = tuple[int, str, str]  # user id, jti, family: whose standing


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached read. kind and scope name the counter it lives under: a product's own ("product",
    its id), the catalog's ("products", "catalog"), a customer's orders or every order ("orders",
    a user id or "all"); key tells the query apart within the scope."""

    kind: Literal["product", "products", "orders"]
    scope: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class Cached:
    """What one read of the cache found. standing_found: whether the token's standing was cached
    (then standing, None for a token the database did not know); body: the cached bytes, or None.
    The slots say where keep() may store what was loaded, under the versions this read saw; None
    when nothing may be stored (Redis unreachable, or nothing asked)."""

    standing_found: bool = False
    standing: AccessState | None = None
    body: bytes | None = None
    standing_slot: str | None = None
    body_slot: str | None = None


MISSED = Cached()


class ViewCache(Protocol):
    def read(self, token: TokenKey | None, entry: Entry | None) -> Cached:
        """The token's standing and the entry's body, in one round trip."""

    def keep(self, cached: Cached, *, standing: AccessState | None = None, body: bytes | None = None) -> None:
        """Store what was loaded after `cached` missed: standing if its slot is set, body if given."""

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        """These products changed; with orders_of, so did that customer's orders."""

    def forget_user(self, user_id: int) -> None:
        """Every token of this user must be judged again."""
