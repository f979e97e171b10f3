"""The catalog in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.connection import LazyConnection
from shop.adapters.sql.rows import from_milli, is_unique_violation, kept_key, listing, to_cents, to_milli
from shop.adapters.sql.tables import products
from shop.application.errors import AlreadyExists
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.unit_of_work import EventCollector
from shop.domain.money import Money
from shop.domain.products import Product
from shop.domain.text import comparison_key, search_key

_LIVE_PRODUCT = select(products).where(products.c.id == bindparam("product_id"), ~products.c.deleted)
_LIVE_PRODUCTS = select(products).where(
    products.c.id.in_(bindparam("product_ids", expanding=True)), ~products.c.deleted
)
# The products an order or a cancellation is decided on, locked in id order (the one lock order every
# transaction keeps, so that multi-line orders can't deadlock); built once, as bench/pgbench renders it.
LOCK_PRODUCTS = (
    select(products)
    .where(products.c.id.in_(bindparam("product_ids", expanding=True)))
    .order_by(products.c.id)
    .with_for_update()
)
LOCK_LIVE_PRODUCTS = LOCK_PRODUCTS.where(~products.c.deleted)
_SAVE_PRODUCT = (
    update(products)
    .where(products.c.id == bindparam("product_id"))
    .values(name_key=kept_key(products.c.name, products.c.name_key))
)

_PRODUCT_SORT = {
    "id": products.c.id,
    "name": products.c.name_key,
    "price": products.c.price_milli,
    "stock": products.c.stock,
}


class SqlProductRepository:
    def __init__(self, conn: LazyConnection, collector: EventCollector) -> None:
        self._conn = conn
        self._collector = collector

    def add(self, product: Product) -> None:
        try:
            values = {**self._values(product), "name_key": comparison_key(product.name)}
            statement = insert(products).values(**values).returning(products.c.id)
            product.id = self._conn.execute(statement).scalar_one()
        except IntegrityError as error:
            raise self._translate(error, product) from None
        self._collector.take_events(product)

    def get(self, product_id: int) -> Product | None:
        row = self._conn.execute(_LIVE_PRODUCT, {"product_id": product_id}).first()
        return self._to_product(row) if row is not None else None

    def get_by_name(self, name: str) -> Product | None:
        live = select(products).where(products.c.name_key == search_key(name, "name"), ~products.c.deleted)
        row = self._conn.execute(live).first()
        return self._to_product(row) if row is not None else None

    def get_many(self, product_ids: Sequence[int]) -> dict[int, Product]:
        if not product_ids:
            return {}
        rows = self._conn.execute(_LIVE_PRODUCTS, {"product_ids": list(product_ids)})
        return {row.id: self._to_product(row) for row in rows}

    def get_for_update(self, product_ids: Sequence[int], *, include_deleted: bool = False) -> dict[int, Product]:
        if not product_ids:
            return {}
        query = LOCK_PRODUCTS if include_deleted else LOCK_LIVE_PRODUCTS
        rows = self._conn.execute(query, {"product_ids": sorted(set(product_ids))})
        return {row.id: self._to_product(row) for row in rows}

    def list(self, query: ProductQuery) -> Listing[Product]:
        conditions = [~products.c.deleted]
        if query.price is not None:
            conditions.append(products.c.price_milli == to_milli(query.price))
        if query.stock is not None:
            conditions.append(products.c.stock == query.stock)
        if query.min_price is not None:
            conditions.append(products.c.price_milli >= to_milli(query.min_price))
        if query.max_price is not None:
            conditions.append(products.c.price_milli <= to_milli(query.max_price))
        if query.in_stock is not None:
            conditions.append(products.c.stock > 0 if query.in_stock else products.c.stock == 0)
        if query.max_stock is not None:
            conditions.append(products.c.stock <= query.max_stock)
        if query.q:
            conditions.append(products.c.name_key.contains(search_key(query.q, "q"), autoescape=True))
        order = []
        for key in (*query.sort, "id"):
            column: ColumnElement[Any] = _PRODUCT_SORT[key.lstrip("-")]
            order.append(column.desc() if key.startswith("-") else column.asc())
        statement = select(products).where(and_(*conditions)).order_by(*order)
        return listing(self._conn, statement, query.page, self._to_product)

    def save(self, product: Product) -> None:
        try:
            keys = {"kept_text": product.name, "new_key": comparison_key(product.name)}
            self._conn.execute(_SAVE_PRODUCT, {"product_id": product.id, **self._values(product), **keys})
        except IntegrityError as error:
            raise self._translate(error, product) from None
        self._collector.take_events(product)

    @staticmethod
    def _translate(error: IntegrityError, product: Product) -> Exception:
        if is_unique_violation(error):
            return AlreadyExists("name", f"A product named {product.name!r} already exists.")
        return error

    @staticmethod
    def _values(product: Product) -> dict[str, Any]:
        return {
            "name": product.name,
            "price_milli": to_milli(product.price.amount),
            "price_cents": to_cents(product.price.amount),
            "currency": product.price.currency,
            "stock": product.stock,
            "deleted": product.deleted,
        }

    @staticmethod
    def _to_product(row: Row[Any]) -> Product:
        return Product(
            id=row.id,
            name=row.name,
            price=Money.trusted(from_milli(row.price_milli), row.currency),
            stock=row.stock,
            deleted=row.deleted,
        )
