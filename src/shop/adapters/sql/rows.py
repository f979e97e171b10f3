"""What every SQL repository shares: money as integer thousandths (and cents for the release before
migration 0010), names' keys, unique violations, one page and its total."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Row, Select, and_, bindparam, case, func, select
from sqlalchemy.exc import IntegrityError

from shop.adapters.sql.connection import LazyConnection
from shop.application.ports.paging import Listing, Page

T = TypeVar("T")
# SQL refuses a larger OFFSET; no page that far holds anything anyway.
MAX_OFFSET = 2**31 - 1


def to_milli(amount: Decimal) -> int:
    """Exact: an amount has at most three decimals (shop.domain.money.MAX_PLACES)."""
    return int(amount.scaleb(3))


def from_milli(milli: int) -> Decimal:
    return Decimal(milli).scaleb(-3)


def to_cents(amount: Decimal) -> int:
    """What the release before 0010 reads: cents, rounded half-even (a KWD price of 1.235 shows 1.24)."""
    return int(amount.scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def kept_key(text: Column[str], key: Column[str | None]) -> ColumnElement[str | None]:
    """The value an UPDATE gives a key column: the stored key while the text stays as stored, so a twin
    kept by migration 0009 keeps its own key; the new key (bound as new_key) once the text changes.
    The text as saved is bound as kept_text."""
    return case((and_(text == bindparam("kept_text"), key.is_not(None)), key), else_=bindparam("new_key"))


def is_unique_violation(error: IntegrityError) -> bool:
    message = str(error.orig).lower()
    return "unique" in message or "duplicate key" in message


def listing(conn: LazyConnection, query: Select[Any], page: Page, entity: Callable[[Row[Any]], T]) -> Listing[T]:
    """One page and the total (docs/decisions.md, "Count list totals with their own query": a count
    is answered from an index alone). Pages past the end are not fetched at all."""
    total: int = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    if page.offset >= min(total, MAX_OFFSET):
        return Listing([], total)
    rows = conn.execute(query.limit(page.size).offset(page.offset))
    return Listing([entity(row) for row in rows], total)
