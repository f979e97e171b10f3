"""Webhook endpoints and their deliveries in SQL.

Deliverers claim deliveries with `FOR UPDATE SKIP LOCKED` (PostgreSQL) and a lease, `claimed_until`:
two deliverers never claim the same one, and a deliverer that dies loses its claims when the lease
lapses. SQLite has no row locks and needs none: a claim runs under its write lock (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from shop.adapters import tracing
from shop.adapters.sql.connection import LazyConnection
from shop.adapters.sql.rows import listing
from shop.adapters.sql.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from shop.application.ports.paging import Listing, Page
from shop.application.ports.webhooks import DeliveryBacklog, Sealer, Standing
from shop.application.unit_of_work import EventCollector
from shop.domain.webhooks import Attempt, Delivery, DeliveryStatus, DisabledBecause, Secret, WebhookEndpoint

# Spelled as literals, as the partial indexes say it: a planner can't prove that bound values match
# an index's condition, and would scan every delivery ever made for each one it looks at.
_WAITING_STATUSES: list[ColumnElement[str]] = [
    literal_column(f"'{s.value}'") for s in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
]
_WAITING = webhook_deliveries.c.status.in_(_WAITING_STATUSES)
_earlier = aliased(webhook_deliveries)
# Due, claimed by nobody, for an enabled endpoint, and the first of its endpoint and aggregate to wait.
_CLAIMABLE = (
    select(webhook_deliveries)
    .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
    .where(
        _WAITING,
        webhook_endpoints.c.enabled,
        webhook_deliveries.c.next_attempt_at <= bindparam("now"),
        or_(webhook_deliveries.c.claimed_until.is_(None), webhook_deliveries.c.claimed_until <= bindparam("now")),
        ~exists().where(
            _earlier.c.endpoint_id == webhook_deliveries.c.endpoint_id,
            _earlier.c.aggregate == webhook_deliveries.c.aggregate,
            _earlier.c.id < webhook_deliveries.c.id,
            _earlier.c.status.in_(_WAITING_STATUSES),
        ),
    )
    .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
)
# How many due rows one claim looks at per slot it fills: rows of an endpoint already at its share
# are passed over (the next round leaves that endpoint out in SQL).
_LOOK_AHEAD = 4


class SqlWebhookRepository:
    def __init__(self, conn: LazyConnection, collector: EventCollector, sealer: Sealer) -> None:
        self._conn = conn
        self._collector = collector
        self._sealer = sealer

    def add(self, endpoint: WebhookEndpoint) -> None:
        statement = insert(webhook_endpoints).values(**self._values(endpoint)).returning(webhook_endpoints.c.id)
        endpoint.id = self._conn.execute(statement).scalar_one()
        self._collector.take_events(endpoint)

    def get(self, endpoint_id: int) -> WebhookEndpoint | None:
        row = self._conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)).first()
        return self._entity(row) if row is not None else None

    def get_for_update(self, endpoint_id: int) -> WebhookEndpoint | None:
        query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).with_for_update()
        row = self._conn.execute(query).first()
        return self._entity(row) if row is not None else None

    def save(self, endpoint: WebhookEndpoint) -> None:
        assert endpoint.id is not None
        statement = update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint.id)
        self._conn.execute(statement.values(**self._values(endpoint)))
        self._collector.take_events(endpoint)

    def remove(self, endpoint_id: int) -> None:
        # Explicitly, not by the foreign keys' cascade alone: SQLite enforces them only when told to.
        deliveries = select(webhook_deliveries.c.id).where(webhook_deliveries.c.endpoint_id == endpoint_id)
        self._conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(deliveries)))
        self._conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id))
        self._conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))

    def enabled(self) -> list[WebhookEndpoint]:
        query = select(webhook_endpoints).where(webhook_endpoints.c.enabled).order_by(webhook_endpoints.c.id)
        return [self._entity(row) for row in self._conn.execute(query)]

    def standings(self) -> list[Standing]:
        query = select(webhook_endpoints.c.id, webhook_endpoints.c.enabled, webhook_endpoints.c.failing_since)
        return [Standing(row.id, row.enabled, row.failing_since) for row in self._conn.execute(query.order_by("id"))]

    def _values(self, endpoint: WebhookEndpoint) -> dict[str, Any]:
        previous = endpoint.previous_secret
        return {
            "url": endpoint.url,
            "events": json.dumps(list(endpoint.event_types)),
            "description": endpoint.description,
            "enabled": endpoint.enabled,
            "disabled_reason": endpoint.disabled_reason.value if endpoint.disabled_reason else None,
            "secret": self._sealer.seal(endpoint.secret.key),
            "previous_secret": self._sealer.seal(previous.key) if previous is not None else None,
            "previous_secret_until": endpoint.previous_secret_until,
            "failing_since": endpoint.failing_since,
            "created_at": endpoint.created_at,
        }

    def _entity(self, row: Row[Any]) -> WebhookEndpoint:
        return WebhookEndpoint(
            id=row.id,
            url=row.url,
            event_types=tuple(json.loads(row.events)),
            description=row.description,
            enabled=row.enabled,
            disabled_reason=DisabledBecause(row.disabled_reason) if row.disabled_reason else None,
            secret=Secret(self._sealer.open(row.secret)),
            previous_secret=Secret(self._sealer.open(row.previous_secret)) if row.previous_secret else None,
            previous_secret_until=row.previous_secret_until,
            failing_since=row.failing_since,
            created_at=row.created_at,
        )

    def list(self, page: Page) -> Listing[WebhookEndpoint]:
        return listing(self._conn, select(webhook_endpoints).order_by(webhook_endpoints.c.id), page, self._entity)


class SqlDeliveryRepository:
    def __init__(self, conn: LazyConnection) -> None:
        self._conn = conn

    def add(self, deliveries: Sequence[Delivery]) -> None:
        # One at a time, each with its RETURNING id: ids follow the order given, on both databases.
        for delivery in deliveries:
            statement = insert(webhook_deliveries).values(
                endpoint_id=delivery.endpoint_id,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                aggregate=delivery.aggregate,
                body=delivery.body.decode(),
                trace_context=tracing.encode(delivery.trace_context),
                **_state(delivery),
                created_at=delivery.created_at,
            )
            delivery.id = self._conn.execute(statement.returning(webhook_deliveries.c.id)).scalar_one()

    def get(self, endpoint_id: int, delivery_id: int) -> Delivery | None:
        query = select(webhook_deliveries).where(
            webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.endpoint_id == endpoint_id
        )
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return _delivery(row, self._attempts([row.id]).get(row.id, []))

    def save(self, delivery: Delivery) -> None:
        assert delivery.id is not None
        statement = update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id)
        self._conn.execute(statement.values(**_state(delivery), claimed_until=None, finished_at=None))

    def claim(
        self, now: datetime, until: datetime, limit: int, busy: Mapping[int, int], per_endpoint: int
    ) -> list[Delivery]:
        full = [endpoint_id for endpoint_id, count in busy.items() if count >= per_endpoint]
        query = _CLAIMABLE
        if full:
            query = query.where(webhook_deliveries.c.endpoint_id.not_in(full))
        query = query.limit(limit * _LOOK_AHEAD)
        if self._conn.dialect.name == "postgresql":
            query = query.with_for_update(of=webhook_deliveries, skip_locked=True)
        room = dict(busy)
        claimed: list[Delivery] = []
        for row in self._conn.execute(query, {"now": now}):
            if room.get(row.endpoint_id, 0) >= per_endpoint:
                continue
            room[row.endpoint_id] = room.get(row.endpoint_id, 0) + 1
            claimed.append(_delivery(row, []))
            if len(claimed) == limit:
                break
        if claimed:
            ids = [delivery.id for delivery in claimed]
            statement = update(webhook_deliveries).where(webhook_deliveries.c.id.in_(ids))
            self._conn.execute(statement.values(claimed_until=until))
        return claimed

    def finish(self, delivery: Delivery, claimed_until: datetime) -> bool:
        assert delivery.id is not None
        finished = None if delivery.status.waiting or not delivery.attempts else delivery.attempts[-1].at
        statement = (
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery.id, webhook_deliveries.c.claimed_until == claimed_until)
            .values(**_state(delivery), claimed_until=None, finished_at=finished)
        )
        if self._conn.execute(statement).rowcount != 1:
            return False
        if delivery.attempts:
            self._conn.execute(
                insert(webhook_attempts),
                [
                    {
                        "delivery_id": delivery.id,
                        "at": attempt.at,
                        "status_code": attempt.status_code,
                        "error": attempt.error,
                        "duration_ms": attempt.duration_ms,
                        "response_body": attempt.response_body,
                    }
                    for attempt in delivery.attempts
                ],
            )
        return True

    def backlog(self) -> DeliveryBacklog:
        query = (
            select(func.count().label("waiting"), func.min(webhook_deliveries.c.created_at).label("oldest"))
            .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
            .where(_WAITING, webhook_endpoints.c.enabled)
        )
        row = self._conn.execute(query).one()
        return DeliveryBacklog(row.waiting, row.oldest)

    def purge_finished_before(self, moment: datetime) -> int:
        old = and_(webhook_deliveries.c.finished_at.is_not(None), webhook_deliveries.c.finished_at < moment)
        self._conn.execute(
            delete(webhook_attempts).where(
                webhook_attempts.c.delivery_id.in_(select(webhook_deliveries.c.id).where(old))
            )
        )
        return self._conn.execute(delete(webhook_deliveries).where(old)).rowcount

    def _attempts(self, delivery_ids: Sequence[int]) -> dict[int, list[Attempt]]:
        if not delivery_ids:
            return {}
        query = (
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
            .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.id)
        )
        found: dict[int, list[Attempt]] = {}
        for row in self._conn.execute(query):
            found.setdefault(row.delivery_id, []).append(
                Attempt(row.at, row.status_code, row.error, row.duration_ms, row.response_body)
            )
        return found

    def list(self, endpoint_id: int, page: Page) -> Listing[Delivery]:
        query = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.endpoint_id == endpoint_id)
            .order_by(webhook_deliveries.c.id.desc())
        )
        found = listing(self._conn, query, page, lambda row: _delivery(row, []))
        attempts = self._attempts([d.id for d in found.items if d.id is not None])
        for delivery in found.items:
            delivery.attempts = attempts.get(delivery.id or 0, [])
        return found


def _state(delivery: Delivery) -> dict[str, Any]:
    return {"status": delivery.status.value, "tries": delivery.tries, "next_attempt_at": delivery.next_attempt_at}


def _delivery(row: Row[Any], attempts: list[Attempt]) -> Delivery:
    return Delivery(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        aggregate=row.aggregate,
        body=row.body.encode(),
        created_at=row.created_at,
        status=DeliveryStatus(row.status),
        tries=row.tries,
        next_attempt_at=row.next_attempt_at,
        attempts=attempts,
        trace_context=tracing.decode(row.trace_context),
    )
