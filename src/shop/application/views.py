"""The reads of the API, as views: each a function that reads the shared cache and, on a miss, the
database on one connection, and answers the rendered body (bytes) with the actor who asked.

An authenticated read makes one round trip to the cache, for the token's standing and the body
together; on a hit nothing else runs: no unit of work, no repository, no entity, no rendering. On a
miss the database is read on one connection (ports/reads.py; its consistency named per read) and
what it answered is stored under the versions the first round trip saw, so a write committed in
between (which bumps them) can't be overwritten by an older read.

Each view takes its query (application/commands.py) whole, as cosmicpython's handlers take their
command: the bootstrap binds its adapters once, with functools.partial.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from shop.application import representations
from shop.application.actors import Actor, TokenClaims
from shop.application.errors import AuthenticationFailed, Forbidden, NotFound
from shop.application.ports.caches import MISSED, Cached, Entry, ViewCache
from shop.application.ports.orders import OrderQuery
from shop.application.ports.products import ProductQuery
from shop.application.ports.reads import Consistency, ReadConnection, Reads
from shop.application.ports.tokens import AccessState

if TYPE_CHECKING:
    from shop.application.commands import TokenStanding, ViewOrder, ViewOrders, ViewProduct, ViewProducts

Encode = Callable[[Any], bytes]
NOT_FOUND = b""  # a missing product, cached as missing until a product is created with its id


@dataclass(frozen=True, slots=True)
class Viewed:
    """A read's answer: who asked, the body as the API sends it, and for a page the total."""

    actor: Actor
    body: bytes
    total: int | None = None


def token_standing(query: TokenStanding, *, reads: Reads, cache: ViewCache | None) -> Actor:
    """The actor behind a signed access token, if nothing revoked it since."""
    return _standing(reads, cache, query.token)


def product(query: ViewProduct, *, reads: Reads, cache: ViewCache | None, encode: Encode) -> Viewed:
    product_id = query.product_id

    def load(conn: ReadConnection) -> bytes:
        found = conn.product(product_id)
        return encode(representations.product(found)) if found is not None else NOT_FOUND

    actor, body = _view(reads, cache, query.token, Entry("product", str(product_id)), load)
    if body == NOT_FOUND:
        raise NotFound("Product", product_id)
    return Viewed(actor, body)


def products(query: ViewProducts, *, reads: Reads, cache: ViewCache | None, encode: Encode) -> Viewed:
    wanted = query.query

    def load(conn: ReadConnection) -> bytes:
        found = conn.products(wanted)
        return _page(found.total, encode([representations.product(item) for item in found.items]))

    actor, stored = _view(reads, cache, query.token, Entry("products", "catalog", _query_key(wanted)), load)
    return _paged(actor, stored)


def order(query: ViewOrder, *, reads: Reads, cache: ViewCache | None, encode: Encode) -> Viewed:
    """Its owner or a manager; for anyone else it does not exist. Not cached: read once, when made."""
    order_id = query.order_id
    actor = _standing(reads, cache, query.token)
    with reads.connection(Consistency.FRESH) as conn:
        found = conn.order(order_id)
    if found is None or not (actor.is_manager or found.user_id == actor.user_id):
        raise NotFound("Order", order_id)
    return Viewed(actor, encode(representations.order(found)))


def orders(query: ViewOrders, *, reads: Reads, cache: ViewCache | None, encode: Encode) -> Viewed:
    """A customer's own orders (one round trip, under their own counter); managers every order, or one
    customer's by username (none when no such account)."""
    token, customer = query.token, query.customer
    own = replace(query.query, user_id=token.user_id)

    def load_own(conn: ReadConnection) -> bytes:
        return _orders_page(conn, own, encode)

    actor, stored = _view(reads, cache, token, Entry("orders", str(token.user_id), _query_key(own)), load_own)
    if not actor.is_manager:
        if customer is not None:
            raise Forbidden("Only managers can list the orders of a customer.")
        return _paged(actor, stored)
    wanted = query.query
    if customer is not None:
        with reads.connection(Consistency.MAY_LAG) as conn:
            user_id = conn.user_id(customer)
        if user_id is None:
            return Viewed(actor, encode([]), 0)
        wanted = replace(wanted, user_id=user_id)
    scope = "all" if wanted.user_id is None else str(wanted.user_id)
    entry = Entry("orders", scope, _query_key(wanted))
    cached = cache.read(None, entry) if cache is not None else MISSED
    if cached.body is not None:
        return _paged(actor, cached.body)
    with reads.connection(Consistency.MAY_LAG) as conn:
        body = _orders_page(conn, wanted, encode)
    if cache is not None:
        cache.keep(cached, body=body)
    return _paged(actor, body)


def _view(
    reads: Reads, cache: ViewCache | None, token: TokenClaims, entry: Entry, load: Callable[[ReadConnection], bytes]
) -> tuple[Actor, bytes]:
    """The token's standing and the entry, from one round trip to the cache; what it lacks, from one
    connection to the database (fresh if the standing has to be read there)."""
    cached = cache.read(_token_key(token), entry) if cache is not None else MISSED
    page, state = cached.body, None
    if cached.standing_found:
        actor = judge(token, cached.standing)
        if page is not None:
            return actor, page  # all from the cache: nothing to keep
    else:
        with reads.connection(Consistency.FRESH) as conn:
            state = conn.access_state(token.user_id, token.jti, token.family)
            try:
                actor = judge(token, state)
            except AuthenticationFailed:
                if cache is not None:
                    cache.keep(cached, standing=state)  # refused again from the cache
                raise
            # On the standing's connection, saving a round trip, unless reads that may lag can go to a
            # replica: then the page is read apart, so that it can (docs/scaling.md).
            if page is None and not reads.routes_lagging:
                page = load(conn)
    if page is None:
        with reads.connection(Consistency.MAY_LAG) as lagging:
            page = load(lagging)
    if cache is not None:
        # What was missing: the standing (kept only if it was not found) and the page.
        cache.keep(cached, standing=state, body=page if cached.body is None else None)
    return actor, page


def judge(claims: TokenClaims, state: AccessState | None) -> Actor:
    """The actor a token's standing lets in, or AuthenticationFailed."""
    if state is None or not state.active or state.token_version != claims.token_version or state.revoked:
        raise AuthenticationFailed("Token is invalid or has been revoked.")
    return Actor(claims.user_id, state.role)


def _standing(reads: Reads, cache: ViewCache | None, token: TokenClaims) -> Actor:
    cached = cache.read(_token_key(token), None) if cache is not None else MISSED
    if cached.standing_found:
        return judge(token, cached.standing)
    with reads.connection(Consistency.FRESH) as conn:
        state = conn.access_state(token.user_id, token.jti, token.family)
    return _judged_and_kept(cache, cached, token, state)


def _judged_and_kept(cache: ViewCache | None, cached: Cached, token: TokenClaims, state: AccessState | None) -> Actor:
    """The standing read from the database, remembered whatever it says (a refused token is refused
    again from the cache), then judged."""
    if cache is not None:
        cache.keep(cached, standing=state)
    return judge(token, state)


def _orders_page(conn: ReadConnection, query: OrderQuery, encode: Encode) -> bytes:
    found = conn.orders(query)
    return _page(found.total, encode([representations.order(item) for item in found.items]))


def _page(total: int, body: bytes) -> bytes:
    """A page as cached: its total, a line break, the body."""
    return b"%d\n%s" % (total, body)


def _paged(actor: Actor, stored: bytes) -> Viewed:
    total, _, body = stored.partition(b"\n")
    return Viewed(actor, body, int(total))


def _token_key(token: TokenClaims) -> tuple[int, str, str]:
    return token.user_id, token.jti, token.family


def _query_key(query: ProductQuery | OrderQuery) -> str:
    # The dataclass's repr names every field: a filter added to a query is part of the key.
    return hashlib.sha256(repr(query).encode()).hexdigest()[:32]
