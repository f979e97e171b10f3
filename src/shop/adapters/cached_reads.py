"""CachedReads: the shared caches in front of the read-only unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Self

from shop.application.ports.caches import AccessCache, CatalogCache
from shop.application.ports.idempotency import IdempotencyRepository
from shop.application.ports.orders import OrderQuery, Sales
from shop.application.ports.outbox import OutboxRepository
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.ports.tokens import AccessState, RefreshToken
from shop.application.ports.unit_of_work import UnitOfWork
from shop.application.ports.users import UserRepository
from shop.application.ports.webhooks import DeliveryRepository, WebhookRepository
from shop.domain.events import Event
from shop.domain.orders import Order
from shop.domain.products import Product


class _CachedProducts:
    def __init__(self, inner: UnitOfWork, cache: CatalogCache) -> None:
        self._inner, self._cache = inner, cache

    def get(self, product_id: int) -> Product | None:
        return self._cache.product(product_id, lambda: self._inner.products.get(product_id))

    def list(self, query: ProductQuery) -> Listing[Product]:
        return self._cache.products(query, lambda: self._inner.products.list(query))

    def get_by_name(self, name: str) -> Product | None:
        return self._inner.products.get_by_name(name)

    def get_many(self, product_ids: Sequence[int]) -> dict[int, Product]:
        return self._inner.products.get_many(product_ids)

    def get_for_update(self, product_ids: Sequence[int], *, include_deleted: bool = False) -> dict[int, Product]:
        return self._inner.products.get_for_update(product_ids, include_deleted=include_deleted)

    def add(self, product: Product) -> None:
        self._inner.products.add(product)

    def save(self, product: Product) -> None:
        self._inner.products.save(product)


class _CachedOrders:
    def __init__(self, inner: UnitOfWork, cache: CatalogCache) -> None:
        self._inner, self._cache = inner, cache

    def list(self, query: OrderQuery) -> Listing[Order]:
        return self._cache.orders(query, lambda: self._inner.orders.list(query))

    def sales(self, since: datetime) -> Sales:
        return self._inner.orders.sales(since)

    def get(self, order_id: int) -> Order | None:
        return self._inner.orders.get(order_id)

    def get_for_update(self, order_id: int) -> Order | None:
        return self._inner.orders.get_for_update(order_id)

    def reserve_id(self) -> None:
        self._inner.orders.reserve_id()

    def add(self, order: Order) -> None:
        self._inner.orders.add(order)

    def save(self, order: Order) -> None:
        self._inner.orders.save(order)


class _CachedTokens:
    def __init__(self, inner: UnitOfWork, cache: AccessCache) -> None:
        self._inner, self._cache = inner, cache

    def access_state(self, user_id: int, jti: str, family: str) -> AccessState | None:
        return self._cache.state(user_id, jti, family, lambda: self._inner.tokens.access_state(user_id, jti, family))

    def add_refresh(self, token: RefreshToken) -> None:
        self._inner.tokens.add_refresh(token)

    def use_refresh(self, jti: str, now: datetime) -> RefreshToken | None:
        return self._inner.tokens.use_refresh(jti, now)

    def is_refresh_usable(self, jti: str, now: datetime) -> bool:
        return self._inner.tokens.is_refresh_usable(jti, now)

    def revoke_family(self, family: str, now: datetime) -> None:
        self._inner.tokens.revoke_family(family, now)

    def revoke_access(self, jti: str, expires_at: datetime) -> None:
        self._inner.tokens.revoke_access(jti, expires_at)

    def purge_expired(self, now: datetime) -> int:
        return self._inner.tokens.purge_expired(now)


class CachedReads:
    """A unit of work for reads, with the catalog, order totals and the standing of tokens read through
    the shared cache; everything else goes to the unit of work it wraps. Only for use cases that read:
    a write through it would not invalidate what it cached (the event handlers do that for writes)."""

    def __init__(self, inner: UnitOfWork, catalog: CatalogCache, access: AccessCache) -> None:
        self._inner = inner
        self.products = _CachedProducts(inner, catalog)
        self.orders = _CachedOrders(inner, catalog)
        self.tokens = _CachedTokens(inner, access)

    @property
    def users(self) -> UserRepository:
        return self._inner.users

    @property
    def idempotency(self) -> IdempotencyRepository:
        return self._inner.idempotency

    @property
    def outbox(self) -> OutboxRepository:
        return self._inner.outbox

    @property
    def webhooks(self) -> WebhookRepository:
        return self._inner.webhooks

    @property
    def deliveries(self) -> DeliveryRepository:
        return self._inner.deliveries

    def record(self, event: Event) -> None:
        self._inner.record(event)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._inner.__exit__(*exc_info)

    def commit(self) -> None:
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()
