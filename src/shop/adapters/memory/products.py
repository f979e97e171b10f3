from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from shop.adapters.memory.store import MemoryState, page_of, stored
from shop.application.errors import AlreadyExists
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.unit_of_work import EventCollector
from shop.domain.products import Product
from shop.domain.text import comparison_key, search_key


class MemoryProductRepository:
    def __init__(self, state: Callable[[], MemoryState], collector: EventCollector) -> None:
        self._state = state
        self._collector = collector

    def add(self, product: Product) -> None:
        state = self._state()
        self._check_unique(state, product)
        product.id = state.allocate("products")
        state.products[product.id] = stored(product, self._collector)

    def get(self, product_id: int) -> Product | None:
        product = self._state().products.get(product_id)
        return copy.deepcopy(product) if product is not None and not product.deleted else None

    def get_by_name(self, name: str) -> Product | None:
        key = search_key(name, "name")
        found = next(
            (p for p in self._state().products.values() if comparison_key(p.name) == key and not p.deleted), None
        )
        return copy.deepcopy(found)

    def get_many(self, product_ids: Sequence[int]) -> dict[int, Product]:
        return self.get_for_update(product_ids)  # the unit of work holds the store's lock already

    def get_for_update(self, product_ids: Sequence[int], *, include_deleted: bool = False) -> dict[int, Product]:
        products = self._state().products
        return {
            pid: copy.deepcopy(products[pid])
            for pid in sorted(set(product_ids))
            if pid in products and (include_deleted or not products[pid].deleted)
        }

    def list(self, query: ProductQuery) -> Listing[Product]:
        needle = search_key(query.q, "q") if query.q else ""
        matching = [p for p in self._state().products.values() if not p.deleted and _matches(p, query, needle)]
        for key in reversed((*query.sort, "id")):
            matching.sort(key=_sort_key(key.lstrip("-")), reverse=key.startswith("-"))
        return page_of(matching, query.page)

    def save(self, product: Product) -> None:
        assert product.id is not None
        state = self._state()
        self._check_unique(state, product)
        state.products[product.id] = stored(product, self._collector)

    @staticmethod
    def _check_unique(state: MemoryState, product: Product) -> None:
        # Like the SQL partial index (WHERE NOT deleted): a deleted product holds no name.
        if product.deleted:
            return
        key = comparison_key(product.name)
        if any(comparison_key(p.name) == key and p.id != product.id and not p.deleted for p in state.products.values()):
            raise AlreadyExists("name", f"A product named {product.name!r} already exists.")


def _sort_key(name: str) -> Callable[[Product], Any]:
    if name == "price":
        return lambda product: product.price.amount
    if name == "name":
        return lambda product: comparison_key(product.name)
    return lambda product: getattr(product, name)


def _matches(p: Product, query: ProductQuery, needle: str) -> bool:
    amount: Decimal = p.price.amount
    return (
        (query.price is None or amount == query.price)
        and (query.stock is None or p.stock == query.stock)
        and (query.min_price is None or amount >= query.min_price)
        and (query.max_price is None or amount <= query.max_price)
        and (query.in_stock is None or (p.stock > 0) == query.in_stock)
        and (query.max_stock is None or p.stock <= query.max_stock)
        and needle in comparison_key(p.name)
    )
