"""The schema. Rows are turned into entities explicitly in the repositories, so nothing of
SQLAlchemy reaches the domain. Money is stored as integer thousandths of its currency (*_milli,
three decimals, the most any currency a price may be in has): exact on every database. The
integer cents beside them are for the release before migration 0010, which reads and writes only
those; this one writes both, rounding half-even to cents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# What names are compared, searched and sorted by: shop.domain.text.comparison_key, computed by the
# repositories (the databases' own lower() and LIKE disagree beyond ASCII). Compared byte for byte on
# both databases ("C" on PostgreSQL, SQLite's default), so both sort alike. Nullable while the release
# before migration 0009 may still write rows without it: its triggers fill it then (see 0009).
KEY: TypeEngine[str] = Text().with_variant(Text(collation="C"), "postgresql")

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(150), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("email", String(254)),
    Column("age", SmallInteger),
    Column("phone", String(32)),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("token_version", Integer, nullable=False, server_default=text("0")),
    Column("username_key", KEY),
    CheckConstraint("role IN ('customer', 'manager')", name="role"),
    # "Alice", "ALICE" and "Alice" with a zero-width space are one name: nobody can pass for someone else.
    Index("uq_users_username_key", "username_key", unique=True),
)
# The release before 0009 looks names up by lower(username); the contract migration drops this index.
_legacy_username_key: ColumnElement[str] = func.lower(users.c.username)
Index("ix_users_username_lower", _legacy_username_key, unique=True)

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stock", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("name_key", KEY),
    # Nullable while the release before 0010 writes only price_cents: a trigger then fills it (see 0010).
    Column("price_milli", BigInteger),
    CheckConstraint("stock >= 0", name="stock_not_negative"),
    CheckConstraint("price_cents >= 0", name="price_not_negative"),
    CheckConstraint("price_milli >= 0", name="price_milli_not_negative"),
    # A name is unique among the products of the catalog, compared by its key; a deleted product frees it.
    Index(
        "uq_products_name_key_live",
        "name_key",
        unique=True,
        postgresql_where=text("NOT deleted"),
        sqlite_where=text("NOT deleted"),
    ),
    # The same on the exact name, for the release before 0009; the contract migration drops it.
    Index(
        "uq_products_name_live",
        "name",
        unique=True,
        postgresql_where=text("NOT deleted"),
        sqlite_where=text("NOT deleted"),
    ),
    Index("ix_products_price_milli", "price_milli"),
    Index("ix_products_price_cents", "price_cents"),  # the release before 0010 sorts by it
    Index("ix_products_stock", "stock"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("cancelled_at", UTCDateTime),
    Column("fulfilled_at", UTCDateTime),
    # The sum of the lines, which never change: written with the order, so that listings sort by it.
    # NULL for an order the previous release wrote during a rolling upgrade (see SqlOrderRepository).
    Column("total_cents", BigInteger),
    # The same in thousandths (migration 0010); NULL also when the release before 0010 wrote no total.
    Column("total_milli", BigInteger),
    CheckConstraint("status IN ('placed', 'cancelled', 'fulfilled')", name="status"),
    Index("ix_orders_user_id_id", "user_id", "id"),
    Index("ix_orders_status_id", "status", "id"),
    Index("ix_orders_created_at", "created_at"),  # the console's sales of today and of the week
    Index("ix_orders_user_id_created_at", "user_id", "created_at", "id"),  # a customer's, newest first
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_milli", BigInteger),
    CheckConstraint("quantity >= 1", name="quantity_positive"),
    Index("ix_order_lines_order_id", "order_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("family", String(64), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Index("ix_refresh_tokens_family", "family"),
    Index("ix_refresh_tokens_expires_at", "expires_at"),
)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_revoked_tokens_expires_at", "expires_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    # 0 and "" while the first request holding the key is still running.
    Column("status", SmallInteger, nullable=False, server_default=text("0")),
    Column("body", Text, nullable=False, server_default=text("''")),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("user_id", "key"),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# Messages to send, written in the transaction of the change they tell (see shop.application.messages).
# position: the order they were committed in, for every message of one aggregate. The pending index
# leaves out sent rows, so the relay's query stays small however long the history; the sent one leaves
# out pending rows, so an order's INSERT maintains neither.
outbox = Table(
    "outbox",
    metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("type", String(64), nullable=False),
    Column("aggregate_type", String(32), nullable=False),
    Column("aggregate_id", BigInteger, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_at", UTCDateTime),
    # When the webhooks' deliverer made this message's deliveries (migration 0011).
    Column("fanned_out_at", UTCDateTime),
    # The W3C Trace Context of the request that wrote it, as JSON (migration 0012); NULL untraced.
    Column("trace_context", Text),
    Index(
        "ix_outbox_pending",
        "position",
        postgresql_where=text("sent_at IS NULL"),
        sqlite_where=text("sent_at IS NULL"),
    ),
    Index(
        "ix_outbox_sent_at",
        "sent_at",
        postgresql_where=text("sent_at IS NOT NULL"),
        sqlite_where=text("sent_at IS NOT NULL"),
    ),
    Index(
        "ix_outbox_awaiting_webhooks",
        "position",
        postgresql_where=text("fanned_out_at IS NULL"),
        sqlite_where=text("fanned_out_at IS NULL"),
    ),
)

# Webhooks. An endpoint's secrets are stored sealed (adapters/sealing.py), never as they sign.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("events", Text, nullable=False),  # a JSON array of types and family patterns
    Column("description", String(500), nullable=False, server_default=text("''")),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", String(16)),
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    Column("previous_secret_until", UTCDateTime),
    Column("failing_since", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("disabled_reason IN ('manager', 'gone', 'failing')", name="disabled_reason"),
)

# One event on its way to one endpoint. The waiting index keeps the claim's two questions small
# however long the log: what is due, and whether an earlier event of the same aggregate still waits.
WAITING = "status IN ('pending', 'retrying')"
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("endpoint_id", Integer, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("aggregate", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("tries", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("claimed_until", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("trace_context", Text),  # its event's, copied from the outbox (migration 0012)
    CheckConstraint("status IN ('pending', 'retrying', 'succeeded', 'failed')", name="status"),
    Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text(WAITING), sqlite_where=text(WAITING)),
    Index(
        "ix_webhook_deliveries_waiting",
        "endpoint_id",
        "aggregate",
        "id",
        postgresql_where=text(WAITING),
        sqlite_where=text(WAITING),
    ),
    Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    Index("ix_webhook_deliveries_finished_at", "finished_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column(
        "delivery_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", SmallInteger),
    Column("error", String(500)),
    Column("duration_ms", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    Index("ix_webhook_attempts_delivery_id_id", "delivery_id", "id"),
)

# Attempts counted by the limits on failed logins and password changes (adapters/sql/attempts.py):
# one row per attempt until its window ends, under the SHA-256 of a key such as "login:alice" (what
# people type as a username is sometimes their password: it is not kept).
attempts = Table(
    "attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("key", String(64), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_attempts_key_expires_at", "key", "expires_at"),
    Index("ix_attempts_expires_at", "expires_at"),
)
