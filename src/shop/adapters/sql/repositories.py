"""Repositories on SQLAlchemy Core: one statement where one will do, rows mapped to entities by hand."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.connection import LazyConnection
from shop.adapters.sql.tables import (
    idempotency_keys,
    order_lines,
    orders,
    outbox,
    products,
    refresh_tokens,
    revoked_tokens,
    username_key,
    users,
)
from shop.application.errors import AlreadyExists, KeyInUse, OrderOutdated
from shop.application.messages import Message, OutboxEntry, envelope
from shop.application.ports import (
    AccessState,
    Backlog,
    OrderQuery,
    Page,
    ProductQuery,
    RefreshToken,
    StoredPlacement,
)
from shop.application.unit_of_work import EventCollector
from shop.domain.money import Money
from shop.domain.orders import Order, OrderLine, OrderStatus
from shop.domain.products import Product
from shop.domain.users import Role, User

CENTS = 100


def to_cents(amount: Decimal) -> int:
    return int(amount * CENTS)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / CENTS).quantize(Decimal("0.01"))


def _is_unique_violation(error: IntegrityError) -> bool:
    message = str(error.orig).lower()
    return "unique" in message or "duplicate key" in message


MAX_OFFSET = 2**31 - 1


def _paged(conn: LazyConnection, query: Select[Any], page: Page) -> tuple[list[Row[Any]], int]:
    """One page and the total.

    The total is its own query: a count can be answered from an index alone, where a window count
    beside the page would fetch every matching row (measured: a customer with 11,000 orders went
    from 60 ms to a few ms per page). Pages past the end are not fetched at all.
    """
    total: int = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    if page.offset >= min(total, MAX_OFFSET):  # nothing there, and SQL would refuse a huge offset
        return [], total
    return list(conn.execute(query.limit(page.size).offset(page.offset))), total


# Statements of the hottest paths, built once: every request runs the first, every product read the second.
_ACCESS_STATE = select(
    users.c.role,
    users.c.active,
    users.c.token_version,
    or_(
        exists().where(revoked_tokens.c.jti == bindparam("jti")),
        exists().where(refresh_tokens.c.family == bindparam("family"), refresh_tokens.c.revoked_at.is_not(None)),
    ).label("revoked"),
).where(users.c.id == bindparam("user_id"))
_LIVE_PRODUCT = select(products).where(products.c.id == bindparam("product_id"), ~products.c.deleted)
_LIVE_PRODUCTS = select(products).where(
    products.c.id.in_(bindparam("product_ids", expanding=True)), ~products.c.deleted
)
# Statements of every order, built once (each build costs a cache-key computation per call).
_SAVE_PRODUCT = update(products).where(products.c.id == bindparam("product_id"))
_ADD_ORDER = insert(orders).returning(orders.c.id)
_ADD_LINES = insert(order_lines)
_NEXT_ORDER_ID = select(func.nextval("orders_id_seq"))
# SQLite: a line's stock is taken only from the product as the order saw it.
_TAKE_STOCK = (
    update(products)
    .where(
        products.c.id == bindparam("product_id"),
        ~products.c.deleted,
        products.c.name == bindparam("seen_name"),
        products.c.price_cents == bindparam("seen_price"),
        products.c.currency == bindparam("seen_currency"),
        products.c.stock >= bindparam("quantity"),
    )
    .values(stock=products.c.stock - bindparam("quantity"))
)
# PostgreSQL: the whole order in one statement, sent with its COMMIT (see connection.py). It locks the
# products in id order (the one lock order every transaction here keeps), takes each line's stock
# where the product is still as the order saw it, writes the order and its lines, and fails as a
# whole (shop_order_outdated) when one product was not: then the COMMIT behind it commits nothing.
_PLACE_ORDER = """
WITH wanted AS (
    SELECT * FROM unnest(%(product_ids)s::int[], %(quantities)s::int[], %(names)s::text[],
                         %(prices)s::bigint[], %(currencies)s::text[]) WITH ORDINALITY
        AS w (product_id, quantity, name, price_cents, currency, line)
), locked AS (
    SELECT id, name, price_cents, currency, stock, deleted FROM products
    WHERE id = ANY(%(product_ids)s::int[]) ORDER BY id FOR UPDATE
), taken AS (
    UPDATE products SET stock = products.stock - wanted.quantity
    FROM wanted JOIN locked ON locked.id = wanted.product_id
    WHERE products.id = wanted.product_id AND NOT locked.deleted AND locked.stock >= wanted.quantity
        AND locked.name = wanted.name AND locked.price_cents = wanted.price_cents
        AND locked.currency = wanted.currency
    RETURNING products.id
), placed AS (
    INSERT INTO orders (id, user_id, status, currency, created_at, updated_at, cancelled_at, fulfilled_at)
    VALUES (%(order_id)s, %(user_id)s, %(status)s, %(currency)s, %(created_at)s, %(updated_at)s,
            %(cancelled_at)s, %(fulfilled_at)s)
), lines AS (
    INSERT INTO order_lines (order_id, product_id, name, unit_price_cents, quantity)
    SELECT %(order_id)s, product_id, name, price_cents, quantity FROM wanted ORDER BY line
)
SELECT shop_order_outdated() WHERE (SELECT count(*) FROM taken) <> %(line_count)s
"""


class SqlUserRepository:
    def __init__(self, conn: LazyConnection, collector: EventCollector) -> None:
        self._conn = conn
        self._collector = collector

    def add(self, user: User) -> None:
        try:
            user.id = self._conn.execute(insert(users).values(**self._values(user)).returning(users.c.id)).scalar_one()
        except IntegrityError as error:
            raise self._translate(error, user) from None
        self._collector.take_events(user)

    def get(self, user_id: int) -> User | None:
        row = self._conn.execute(select(users).where(users.c.id == user_id)).first()
        return self._to_user(row) if row is not None else None

    def get_for_update(self, user_id: int) -> User | None:
        row = self._conn.execute(select(users).where(users.c.id == user_id).with_for_update()).first()
        return self._to_user(row) if row is not None else None

    def get_by_username(self, username: str) -> User | None:
        row = self._conn.execute(select(users).where(username_key == username.lower())).first()
        return self._to_user(row) if row is not None else None

    def list(self, page: Page) -> tuple[list[User], int]:
        rows, total = _paged(self._conn, select(users).where(users.c.active).order_by(users.c.id), page)
        return [self._to_user(row) for row in rows], total

    def save(self, user: User) -> None:
        try:
            self._conn.execute(update(users).where(users.c.id == user.id).values(**self._values(user)))
        except IntegrityError as error:
            raise self._translate(error, user) from None
        self._collector.take_events(user)

    @staticmethod
    def _translate(error: IntegrityError, user: User) -> Exception:
        if _is_unique_violation(error):
            return AlreadyExists("username", f"A user named {user.username!r} already exists.")
        return error

    @staticmethod
    def _values(user: User) -> dict[str, Any]:
        return {
            "username": user.username,
            "password_hash": user.password_hash,
            "email": user.email,
            "age": user.age,
            "phone": user.phone,
            "role": user.role.value,
            "active": user.active,
            "token_version": user.token_version,
        }

    @staticmethod
    def _to_user(row: Row[Any]) -> User:
        return User(
            id=row.id,
            username=row.username,
            password_hash=row.password_hash,
            email=row.email,
            age=row.age,
            phone=row.phone,
            role=Role(row.role),
            active=row.active,
            token_version=row.token_version,
        )


_PRODUCT_SORT = {
    "id": products.c.id,
    "name": products.c.name,
    "price": products.c.price_cents,
    "stock": products.c.stock,
}


class SqlProductRepository:
    def __init__(self, conn: LazyConnection, collector: EventCollector) -> None:
        self._conn = conn
        self._collector = collector

    def add(self, product: Product) -> None:
        try:
            statement = insert(products).values(**self._values(product)).returning(products.c.id)
            product.id = self._conn.execute(statement).scalar_one()
        except IntegrityError as error:
            raise self._translate(error, product) from None
        self._collector.take_events(product)

    def get(self, product_id: int) -> Product | None:
        row = self._conn.execute(_LIVE_PRODUCT, {"product_id": product_id}).first()
        return self._to_product(row) if row is not None else None

    def get_many(self, product_ids: Sequence[int]) -> dict[int, Product]:
        if not product_ids:
            return {}
        rows = self._conn.execute(_LIVE_PRODUCTS, {"product_ids": list(product_ids)})
        return {row.id: self._to_product(row) for row in rows}

    def get_for_update(self, product_ids: Sequence[int], *, include_deleted: bool = False) -> dict[int, Product]:
        if not product_ids:
            return {}
        query = select(products).where(products.c.id.in_(sorted(set(product_ids))))
        if not include_deleted:
            query = query.where(~products.c.deleted)
        rows = self._conn.execute(query.order_by(products.c.id).with_for_update())
        return {row.id: self._to_product(row) for row in rows}

    def list(self, query: ProductQuery) -> tuple[list[Product], int]:
        conditions = [~products.c.deleted]
        if query.price is not None:
            conditions.append(products.c.price_cents == to_cents(query.price))
        if query.stock is not None:
            conditions.append(products.c.stock == query.stock)
        if query.min_price is not None:
            conditions.append(products.c.price_cents >= to_cents(query.min_price))
        if query.max_price is not None:
            conditions.append(products.c.price_cents <= to_cents(query.max_price))
        if query.in_stock is not None:
            conditions.append(products.c.stock > 0 if query.in_stock else products.c.stock == 0)
        if query.q:
            pattern = "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(products.c.name.ilike(pattern, escape="\\"))
        order = []
        for key in (*query.sort, "id"):
            column: ColumnElement[Any] = _PRODUCT_SORT[key.lstrip("-")]
            if key.lstrip("-") == "name":
                column = func.lower(column)
            order.append(column.desc() if key.startswith("-") else column.asc())
        rows, total = _paged(self._conn, select(products).where(and_(*conditions)).order_by(*order), query.page)
        return [self._to_product(row) for row in rows], total

    def save(self, product: Product) -> None:
        try:
            self._conn.execute(_SAVE_PRODUCT, {"product_id": product.id, **self._values(product)})
        except IntegrityError as error:
            raise self._translate(error, product) from None
        self._collector.take_events(product)

    @staticmethod
    def _translate(error: IntegrityError, product: Product) -> Exception:
        if _is_unique_violation(error):
            return AlreadyExists("name", f"A product named {product.name!r} already exists.")
        return error

    @staticmethod
    def _values(product: Product) -> dict[str, Any]:
        return {
            "name": product.name,
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
            price=Money.trusted(from_cents(row.price_cents), row.currency),
            stock=row.stock,
            deleted=row.deleted,
        )


class SqlOrderRepository:
    def __init__(self, conn: LazyConnection, collector: EventCollector) -> None:
        self._conn = conn
        self._collector = collector

    def add(self, order: Order) -> None:
        if self._conn.defers:
            lines = order.lines  # _PLACE_ORDER locks in id order whatever the order of its lines
            order.id = self._conn.execute(_NEXT_ORDER_ID).scalar_one()
            self._conn.defer(
                _PLACE_ORDER,
                {
                    "product_ids": [line.product_id for line in lines],
                    "quantities": [line.quantity for line in lines],
                    "names": [line.name for line in lines],
                    "prices": [to_cents(line.unit_price.amount) for line in lines],
                    "currencies": [line.unit_price.currency for line in lines],
                    "order_id": order.id,
                    "user_id": order.user_id,
                    "currency": order.currency,
                    "line_count": len(lines),
                    **self._state(order),
                },
            )
        else:
            for line in sorted(order.lines, key=lambda line: line.product_id):
                taken = self._conn.execute(
                    _TAKE_STOCK,
                    {
                        "product_id": line.product_id,
                        "quantity": line.quantity,
                        "seen_name": line.name,
                        "seen_price": to_cents(line.unit_price.amount),
                        "seen_currency": line.unit_price.currency,
                    },
                )
                if taken.rowcount != 1:
                    raise OrderOutdated(f"product {line.product_id} changed")
            self._insert(order)
        self._collector.take_events(order)

    def _insert(self, order: Order) -> None:
        order.id = self._conn.execute(
            _ADD_ORDER, {"user_id": order.user_id, "currency": order.currency, **self._state(order)}
        ).scalar_one()
        self._conn.execute(
            _ADD_LINES,
            [
                {
                    "order_id": order.id,
                    "product_id": line.product_id,
                    "name": line.name,
                    "unit_price_cents": to_cents(line.unit_price.amount),
                    "quantity": line.quantity,
                }
                for line in order.lines
            ],
        )

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

    def page(self, query: OrderQuery) -> list[Order]:
        if query.page.offset >= MAX_OFFSET:  # SQL would refuse the offset; nothing is there anyway
            return []
        statement = select(orders).where(*self._conditions(query)).order_by(orders.c.id)
        rows = list(self._conn.execute(statement.limit(query.page.size).offset(query.page.offset)))
        lines = _lines_of(self._conn, [row.id for row in rows])
        return [_to_order(row, lines[row.id]) for row in rows]

    def count(self, query: OrderQuery) -> int:
        """From the (user_id, id) or (status, id) index alone; see _paged."""
        total: int = self._conn.execute(
            select(func.count()).select_from(orders).where(*self._conditions(query))
        ).scalar_one()
        return total

    @staticmethod
    def _conditions(query: OrderQuery) -> list[ColumnElement[bool]]:
        conditions = []
        if query.user_id is not None:
            conditions.append(orders.c.user_id == query.user_id)
        if query.status is not None:
            conditions.append(orders.c.status == query.status.value)
        return conditions

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
                unit_price=Money.trusted(from_cents(line.unit_price_cents), row.currency),
                quantity=line.quantity,
            )
            for line in lines
        ],
    )


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


# The status column tells a finished placement (non-zero) from one still running (0). Releases before
# the outbox stored the HTTP status there and replay it: they must keep reading 201.
PLACED = 201


_KEEP_KEY = """
INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
VALUES (%(user_id)s, %(key)s, %(fingerprint)s, %(status)s, %(body)s, %(created_at)s)
"""


class SqlIdempotencyRepository:
    def __init__(self, conn: LazyConnection) -> None:
        self._conn = conn

    def get(self, user_id: int, key: str) -> StoredPlacement | None:
        where = (idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        row = self._conn.execute(select(idempotency_keys).where(*where)).first()
        if row is None:
            return None
        order = orjson.loads(row.body) if row.status else None
        return StoredPlacement(row.user_id, row.key, row.fingerprint, row.created_at, order)

    def keep(self, placement: StoredPlacement) -> None:
        values = {
            "user_id": placement.user_id,
            "key": placement.key,
            "fingerprint": placement.fingerprint,
            "status": PLACED,
            "body": orjson.dumps(placement.order).decode(),
            "created_at": placement.created_at,
        }
        if self._conn.defers:
            # With the COMMIT: a concurrent holder of the key is waited for there (the unique index).
            self._conn.defer(_KEEP_KEY, values)
            return
        try:
            self._conn.execute(insert(idempotency_keys), values)
        except IntegrityError:
            raise KeyInUse() from None

    def delete(self, user_id: int, key: str) -> None:
        self._conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        )

    def purge_older_than(self, moment: datetime) -> int:
        return self._conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < moment)).rowcount


_ADD_TO_OUTBOX = insert(outbox)
_ADD_TO_OUTBOX_PG = """
INSERT INTO outbox (event_id, type, aggregate_type, aggregate_id, occurred_at, body)
VALUES (%(event_id)s, %(type)s, %(aggregate_type)s, %(aggregate_id)s, %(occurred_at)s, %(body)s)
"""
_PENDING = (
    select(outbox.c.position, outbox.c.event_id, outbox.c.type, outbox.c.occurred_at, outbox.c.body)
    .where(outbox.c.sent_at.is_(None))
    .order_by(outbox.c.position)
    .limit(bindparam("limit"))
)


class SqlOutboxRepository:
    def __init__(self, conn: LazyConnection) -> None:
        self._conn = conn

    def add(self, messages: Sequence[Message]) -> None:
        rows = []
        for message in messages:
            event_id = str(uuid.uuid4())
            rows.append(
                {
                    "event_id": event_id,
                    "type": message.type,
                    "aggregate_type": message.aggregate_type,
                    "aggregate_id": message.aggregate_id,
                    "occurred_at": message.occurred_at,
                    "body": orjson.dumps(envelope(message, event_id)).decode(),
                }
            )
        if self._conn.defers:
            self._conn.defer(_ADD_TO_OUTBOX_PG, rows, many=True)
        else:
            self._conn.execute(_ADD_TO_OUTBOX, rows)

    def pending(self, limit: int) -> list[OutboxEntry]:
        return [
            OutboxEntry(row.position, row.event_id, row.type, row.occurred_at, row.body.encode())
            for row in self._conn.execute(_PENDING, {"limit": limit})
        ]

    def mark_sent(self, positions: Sequence[int], now: datetime) -> None:
        if positions:
            self._conn.execute(update(outbox).where(outbox.c.position.in_(positions)).values(sent_at=now))

    def backlog(self) -> Backlog:
        pending = self._conn.execute(
            select(func.count().label("waiting"), func.min(outbox.c.occurred_at).label("oldest")).where(
                outbox.c.sent_at.is_(None)
            )
        ).one()
        return Backlog(pending.waiting, pending.oldest)

    def purge_sent_before(self, moment: datetime) -> int:
        statement = delete(outbox).where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < moment)
        return self._conn.execute(statement).rowcount
