from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from shop.adapters.memory.store import DeliveryRow, MemoryState, page_of, stored
from shop.application.ports.paging import Listing, Page
from shop.application.ports.webhooks import DeliveryBacklog, Standing
from shop.application.unit_of_work import EventCollector
from shop.domain.webhooks import Delivery, WebhookEndpoint


class MemoryWebhookRepository:
    def __init__(self, state: Callable[[], MemoryState], collector: EventCollector) -> None:
        self._state = state
        self._collector = collector

    def add(self, endpoint: WebhookEndpoint) -> None:
        state = self._state()
        endpoint.id = state.allocate("webhooks")
        state.webhooks[endpoint.id] = stored(endpoint, self._collector)

    def get(self, endpoint_id: int) -> WebhookEndpoint | None:
        return copy.deepcopy(self._state().webhooks.get(endpoint_id))

    def get_for_update(self, endpoint_id: int) -> WebhookEndpoint | None:
        return self.get(endpoint_id)  # the unit of work holds the store's lock already

    def save(self, endpoint: WebhookEndpoint) -> None:
        assert endpoint.id is not None
        state = self._state()
        if endpoint.id in state.webhooks:
            state.webhooks[endpoint.id] = stored(endpoint, self._collector)

    def remove(self, endpoint_id: int) -> None:
        state = self._state()
        state.webhooks.pop(endpoint_id, None)
        for delivery_id in [i for i, row in state.deliveries.items() if row.delivery.endpoint_id == endpoint_id]:
            del state.deliveries[delivery_id]

    def enabled(self) -> list[WebhookEndpoint]:
        return [copy.deepcopy(e) for _, e in sorted(self._state().webhooks.items()) if e.enabled]

    def standings(self) -> list[Standing]:
        return [
            Standing(endpoint_id, endpoint.enabled, endpoint.failing_since)
            for endpoint_id, endpoint in sorted(self._state().webhooks.items())
        ]

    def list(self, page: Page) -> Listing[WebhookEndpoint]:
        return page_of((e for _, e in sorted(self._state().webhooks.items())), page)


class MemoryDeliveryRepository:
    def __init__(self, state: Callable[[], MemoryState]) -> None:
        self._state = state

    def add(self, deliveries: Sequence[Delivery]) -> None:
        state = self._state()
        for delivery in deliveries:
            delivery.id = state.allocate("deliveries")
            state.deliveries[delivery.id] = DeliveryRow(copy.deepcopy(delivery))

    def get(self, endpoint_id: int, delivery_id: int) -> Delivery | None:
        row = self._state().deliveries.get(delivery_id)
        if row is None or row.delivery.endpoint_id != endpoint_id:
            return None
        return copy.deepcopy(row.delivery)

    def save(self, delivery: Delivery) -> None:
        assert delivery.id is not None
        row = self._state().deliveries.get(delivery.id)
        if row is not None:
            attempts = row.delivery.attempts
            row.delivery = copy.deepcopy(delivery)
            row.delivery.attempts = attempts
            row.claimed_until = None
            row.finished_at = None

    def claim(
        self, now: datetime, until: datetime, limit: int, busy: Mapping[int, int], per_endpoint: int
    ) -> list[Delivery]:
        state = self._state()
        rows = sorted(state.deliveries.items())
        earliest: dict[tuple[int, str], int] = {}
        for delivery_id, row in rows:
            key = (row.delivery.endpoint_id, row.delivery.aggregate)
            if row.delivery.status.waiting and key not in earliest:
                earliest[key] = delivery_id
        due = sorted(
            (
                row
                for delivery_id, row in rows
                if row.delivery.status.waiting
                and row.delivery.next_attempt_at is not None
                and row.delivery.next_attempt_at <= now
                and (row.claimed_until is None or row.claimed_until <= now)
                and earliest[(row.delivery.endpoint_id, row.delivery.aggregate)] == delivery_id
                and _enabled(state, row.delivery.endpoint_id)
            ),
            key=lambda row: (row.delivery.next_attempt_at, row.delivery.id),
        )
        room = dict(busy)
        claimed: list[Delivery] = []
        for row in due:
            if len(claimed) == limit:
                break
            endpoint_id = row.delivery.endpoint_id
            if room.get(endpoint_id, 0) >= per_endpoint:
                continue
            room[endpoint_id] = room.get(endpoint_id, 0) + 1
            row.claimed_until = until
            delivery = copy.deepcopy(row.delivery)
            delivery.attempts = []
            claimed.append(delivery)
        return claimed

    def finish(self, delivery: Delivery, claimed_until: datetime) -> bool:
        assert delivery.id is not None
        row = self._state().deliveries.get(delivery.id)
        if row is None or row.claimed_until != claimed_until:
            return False
        attempts = [*row.delivery.attempts, *delivery.attempts]
        row.delivery = copy.deepcopy(delivery)
        row.delivery.attempts = copy.deepcopy(attempts)
        row.claimed_until = None
        row.finished_at = None if delivery.status.waiting else (delivery.attempts[-1].at if delivery.attempts else None)
        return True

    def backlog(self) -> DeliveryBacklog:
        state = self._state()
        waiting = [
            row.delivery.created_at
            for row in state.deliveries.values()
            if row.delivery.status.waiting and _enabled(state, row.delivery.endpoint_id)
        ]
        return DeliveryBacklog(len(waiting), min(waiting, default=None))

    def purge_finished_before(self, moment: datetime) -> int:
        deliveries = self._state().deliveries
        old = [i for i, row in deliveries.items() if row.finished_at is not None and row.finished_at < moment]
        for delivery_id in old:
            del deliveries[delivery_id]
        return len(old)

    def list(self, endpoint_id: int, page: Page) -> Listing[Delivery]:
        rows = sorted(self._state().deliveries.items(), reverse=True)
        return page_of((row.delivery for _, row in rows if row.delivery.endpoint_id == endpoint_id), page)


def _enabled(state: MemoryState, endpoint_id: int) -> bool:
    endpoint = state.webhooks.get(endpoint_id)
    return endpoint is not None and endpoint.enabled
