"""The catalog and the order listings, cached in Redis."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from shop.adapters.redis.versioned import Versioned
from shop.application.ports.orders import OrderQuery
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.domain.money import Money
from shop.domain.orders import Order, OrderLine, OrderStatus
from shop.domain.products import Product

T = TypeVar("T")


class RedisCatalogCache(Versioned):
    def product(self, product_id: int, load: Callable[[], Product | None]) -> Product | None:
        counter, prefix = self._product_counter(product_id), f"{self._prefix}product:{product_id}@"
        cached = self._read(counter, prefix)
        if cached is not None and cached[1] is not None:
            return _product(orjson.loads(cached[1])) if cached[1] != b"null" else None
        product = load()
        if cached is not None:
            self._write(prefix + cached[0], orjson.dumps(_plain(product) if product else None))
        return product

    def products(self, query: ProductQuery, load: Callable[[], Listing[Product]]) -> Listing[Product]:
        prefix = f"{self._prefix}page:{_query_key(query)}@"
        return self._listing(self._generation, prefix, load, _plain, _product)

    def orders(self, query: OrderQuery, load: Callable[[], Listing[Order]]) -> Listing[Order]:
        """Under a counter per customer, and one for the managers' view of everyone."""
        scope = "all" if query.user_id is None else str(query.user_id)
        prefix = f"{self._prefix}orders:{scope}:{_query_key(query)}@"
        return self._listing(self._orders_counter(scope), prefix, load, _plain_order, _order)

    def _listing(
        self,
        counter: str,
        prefix: str,
        load: Callable[[], Listing[T]],
        plain: Callable[[T], dict[str, Any]],
        entity: Callable[[dict[str, Any]], T],
    ) -> Listing[T]:
        cached = self._read(counter, prefix)
        if cached is not None and cached[1] is not None:
            stored = orjson.loads(cached[1])
            return Listing([entity(item) for item in stored["items"]], stored["total"])
        found = load()
        if cached is not None:
            stored = {"items": [plain(item) for item in found.items], "total": found.total}
            self._write(prefix + cached[0], orjson.dumps(stored))
        return found

    def invalidate(self, product_ids: Collection[int], *, orders_of: int | None = None) -> None:
        """One round trip, whatever changed."""
        counters = [self._product_counter(product_id) for product_id in product_ids]
        if counters:
            counters.append(self._generation)
        if orders_of is not None:
            counters += [self._orders_counter(str(orders_of)), self._orders_counter("all")]
        self._bump(*counters)

    @property
    def _generation(self) -> str:
        return f"{self._prefix}catalog:generation"

    def _product_counter(self, product_id: int) -> str:
        return f"{self._prefix}product:{product_id}:version"

    def _orders_counter(self, scope: str) -> str:
        return f"{self._prefix}orders:{scope}:version"


def _query_key(query: ProductQuery | OrderQuery) -> str:
    # The dataclass's repr names every field: a filter added to a query is part of the key.
    return hashlib.sha256(repr(query).encode()).hexdigest()[:32]


def _plain(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "name": product.name,
        "amount": str(product.price.amount),
        "currency": product.price.currency,
        "stock": product.stock,
        "deleted": product.deleted,
    }


def _product(data: dict[str, Any]) -> Product:
    price = Money.trusted(Decimal(data["amount"]), data["currency"])
    return Product(id=data["id"], name=data["name"], price=price, stock=data["stock"], deleted=data["deleted"])


def _plain_order(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "user": order.user_id,
        "status": order.status.value,
        "currency": order.currency,
        "times": [
            _when(order.created_at),
            _when(order.updated_at),
            _when(order.cancelled_at),
            _when(order.fulfilled_at),
        ],
        "lines": [[line.product_id, line.name, str(line.unit_price.amount), line.quantity] for line in order.lines],
    }


def _order(data: dict[str, Any]) -> Order:
    created, updated, cancelled, fulfilled = (datetime.fromisoformat(t) if t else None for t in data["times"])
    assert created is not None
    return Order(
        id=data["id"],
        user_id=data["user"],
        status=OrderStatus(data["status"]),
        created_at=created,
        updated_at=updated,
        cancelled_at=cancelled,
        fulfilled_at=fulfilled,
        lines=[
            OrderLine(product_id, name, Money.trusted(Decimal(amount), data["currency"]), quantity)
            for product_id, name, amount, quantity in data["lines"]
        ],
    )


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
