from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from shop.application.ports.paging import Listing, Page
from shop.domain.products import Product

PRODUCT_SORT_KEYS = frozenset({"id", "name", "price", "stock"})


@dataclass(frozen=True, slots=True)
class ProductQuery:
    page: Page = Page()
    price: Decimal | None = None
    stock: int | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    max_stock: int | None = None  # at most this many units left
    q: str | None = None  # a piece of the name, whatever its case
    # Keys of PRODUCT_SORT_KEYS, a leading "-" for descending; id is always the last tie-breaker.
    sort: tuple[str, ...] = ()


class ProductRepository(Protocol):
    def add(self, product: Product) -> None:
        """Store a new product and set its id; AlreadyExists when the name is taken."""

    def get(self, product_id: int) -> Product | None:
        """A product of the catalog; None when unknown or deleted."""

    def get_by_name(self, name: str) -> Product | None:
        """The product of the catalog whose name is this one whatever its case, width or invisible
        characters (the comparison key); a deleted product holds no name."""

    def get_many(self, product_ids: Sequence[int]) -> dict[int, Product]:
        """Products of the catalog by id, read without a lock; unknown and deleted ones are left out."""

    def get_for_update(self, product_ids: Sequence[int], *, include_deleted: bool = False) -> dict[int, Product]:
        """Products by id, locked until the unit of work ends, locks taken in id order.

        Deleted products are left out unless include_deleted.
        """

    def list(self, query: ProductQuery) -> Listing[Product]: ...

    def save(self, product: Product) -> None:
        """Write back name, price, stock and deleted; AlreadyExists when the name is taken."""
