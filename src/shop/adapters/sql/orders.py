"""Orders in SQL; placing one also takes its stock (see TAKE_STOCK)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, case, func, insert, select, update

from shop.adapters.sql.connection import LazyConnection, psycopg_sql
from shop.adapters.sql.rows import from_milli, listing, to_cents, to_milli
from shop.adapters.sql.tables import order_lines, orders, products
from shop.application.ports.orders import OrderQuery, Sales
from shop.application.ports.paging import Listing
from shop.application.unit_of_work import EventCollector
from shop.domain.money import Money
from shop.domain.orders import Order, OrderLine, OrderStatus

# Statements of every order, built once (each build costs a cache-key computation per call).
_ADD_ORDER = insert(orders).returning(orders.c.id)
_NEXT_ORDER_ID = select(func.nextval("orders_id_seq"))

# The rule "enough stock, the product as the order saw it", written once: this is the only place it
# is spelled in SQL, for SQLite, PostgreSQL and the pgbench ceiling (bench/pgbench/generate.py). The
# domain decided on the products as read under their lock (Order.place), so it holds for every line;
# should it ever not, the CASE has no ELSE: the stock would become NULL, which the column refuses,
# and the whole transaction fails with nothing taken.
IN_STOCK_AS_SEEN = and_(
    ~products.c.deleted,
    products.c.stock >= bindparam("quantity"),
    products.c.name == bindparam("seen_name"),
    products.c.price_milli == bindparam("seen_price"),
    products.c.currency == bindparam("seen_currency"),
)
TAKE_STOCK = (
    update(products)
    .where(products.c.id == bindparam("product_id"))
    .values(stock=case((IN_STOCK_AS_SEEN, products.c.stock - bindparam("quantity"))))
)
ADD_ORDER = insert(orders)
ADD_LINES = insert(order_lines)
# PostgreSQL: the same statements in psycopg's own parameter style, sent with the COMMIT (connection.py).
_TAKE_STOCK_PG = psycopg_sql(TAKE_STOCK)
_ADD_ORDER_PG = psycopg_sql(ADD_ORDER, column_keys=[c.key for c in orders.c])
_ADD_LINES_PG = psycopg_sql(
    ADD_LINES, column_keys=[c.key for c in order_lines.c if c.key != "id"], for_executemany=True
)


# An order a release before 0007 wrote during a rolling upgrade has no total: the sum of its lines
# stands in (coalesce evaluates it for those rows only).
_TOTAL = func.coalesce(
    orders.c.total_milli,
    select(func.sum(order_lines.c.unit_price_milli * order_lines.c.quantity))
    .where(order_lines.c.order_id == orders.c.id)
    .scalar_subquery(),
)
_SORT: dict[str, ColumnElement[Any]] = {
    "created_at": orders.c.created_at,
    "id": orders.c.id,
    "status": orders.c.status,
    "total": _TOTAL,
}


class SqlOrderRepository:
    def __init__(self, conn: LazyConnection, collector: EventCollector) -> None:
        self._conn = conn
        self._collector = collector
        self._reserved: int | None = None

    def reserve_id(self) -> None:
        if self._conn.defers and self._reserved is None:
            self._reserved = self._conn.execute(_NEXT_ORDER_ID).scalar_one()

    def add(self, order: Order) -> None:
        """Take each line's stock (TAKE_STOCK) and insert the order and its lines. The products were
        read under their lock in id order, and their stock is taken in that order too. On PostgreSQL
        the order's id comes from its sequence (reserve_id, before the locks), and the writes wait
        for the COMMIT, sent with it in one round trip."""
        lines = sorted(order.lines, key=lambda line: line.product_id)
        takes = [
            {
                "product_id": line.product_id,
                "quantity": line.quantity,
                "seen_name": line.name,
                "seen_price": to_milli(line.unit_price.amount),
                "seen_currency": line.unit_price.currency,
            }
            for line in lines
        ]
        total = order.total.amount
        values = {
            "user_id": order.user_id,
            "currency": order.currency,
            "total_milli": to_milli(total),
            "total_cents": to_cents(total),
            **self._state(order),
        }
        if self._conn.defers:
            if self._reserved is None:
                self.reserve_id()
            order.id, self._reserved = self._reserved, None
            self._conn.defer(_TAKE_STOCK_PG, takes, many=True)
            self._conn.defer(_ADD_ORDER_PG, {"id": order.id, **values})
            self._conn.defer(_ADD_LINES_PG, self._lines(order), many=True)
        else:
            self._conn.execute(TAKE_STOCK, takes)
            order.id = self._conn.execute(_ADD_ORDER, values).scalar_one()
            self._conn.execute(ADD_LINES, self._lines(order))
        self._collector.take_events(order)

    @staticmethod
    def _lines(order: Order) -> list[dict[str, Any]]:
        return [
            {
                "order_id": order.id,
                "product_id": line.product_id,
                "name": line.name,
                "unit_price_milli": to_milli(line.unit_price.amount),
                "unit_price_cents": to_cents(line.unit_price.amount),
                "quantity": line.quantity,
            }
            for line in order.lines
        ]

    def get(self, order_id: int) -> Order | None:
        return self._get(order_id, lock=False)

    def get_for_update(self, order_id: int) -> Order | None:
        return self._get(order_id, lock=True)

    def _get(self, order_id: int, *, lock: bool) -> Order | None:
        query = select(orders).where(orders.c.id == order_id)
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return None
        return _to_order(row, _lines_of(self._conn, [order_id])[order_id])

    def list(self, query: OrderQuery) -> Listing[Order]:
        """The total from an index alone; a customer's newest first from (user_id, created_at, id);
        the page's lines in one query."""
        order = [_SORT[key[1:]].desc() if key.startswith("-") else _SORT[key].asc() for key in query.ordering]
        statement = select(orders).where(*_conditions(query)).order_by(*order)
        found = listing(self._conn, statement, query.page, lambda row: row)
        lines = _lines_of(self._conn, [row.id for row in found.items])
        return Listing([_to_order(row, lines[row.id]) for row in found.items], found.total)

    def sales(self, since: datetime) -> Sales:
        placed = orders.c.created_at >= since
        count = self._conn.execute(select(func.count()).where(placed)).scalar_one()
        revenue = self._conn.execute(
            select(orders.c.currency, func.sum(order_lines.c.unit_price_milli * order_lines.c.quantity).label("milli"))
            .select_from(orders.join(order_lines, order_lines.c.order_id == orders.c.id))
            .where(placed, orders.c.status != OrderStatus.CANCELLED.value)
            .group_by(orders.c.currency)
            .order_by(orders.c.currency)
        )
        return Sales(count, tuple(Money.trusted(from_milli(row.milli), row.currency) for row in revenue))

    def save(self, order: Order) -> None:
        self._conn.execute(update(orders).where(orders.c.id == order.id).values(**self._state(order)))
        self._collector.take_events(order)

    @staticmethod
    def _state(order: Order) -> dict[str, Any]:
        return {
            "status": order.status.value,
            "created_at": order.created_at,
            "updated_at": order.updated_at,
            "cancelled_at": order.cancelled_at,
            "fulfilled_at": order.fulfilled_at,
        }


def _conditions(query: OrderQuery) -> list[ColumnElement[bool]]:
    conditions = []
    if query.user_id is not None:
        conditions.append(orders.c.user_id == query.user_id)
    if query.status is not None:
        conditions.append(orders.c.status == query.status.value)
    return conditions


def _lines_of(conn: LazyConnection, order_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """Lines of several orders in one query: no query per order."""
    by_order: dict[int, list[Row[Any]]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        query = select(order_lines).where(order_lines.c.order_id.in_(order_ids)).order_by(order_lines.c.id)
        for line in conn.execute(query):
            by_order[line.order_id].append(line)
    return by_order


def _to_order(row: Row[Any], lines: list[Row[Any]]) -> Order:
    return Order(
        id=row.id,
        user_id=row.user_id,
        status=OrderStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        cancelled_at=row.cancelled_at,
        fulfilled_at=row.fulfilled_at,
        lines=[
            OrderLine(
                product_id=line.product_id,
                name=line.name,
                unit_price=Money.trusted(from_milli(line.unit_price_milli), row.currency),
                quantity=line.quantity,
            )
            for line in lines
        ],
    )
