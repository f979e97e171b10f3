"""Webhook storage, one suite on the fake, SQLite and PostgreSQL: endpoints and their sealed secrets,
the outbox's fan-out mark, and deliveries claimed one at a time per endpoint and aggregate."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, text

from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.messages import Message
from shop.application.ports.paging import Page
from shop.application.ports.webhooks import DeliveryBacklog, Standing
from shop.domain.events import WebhookDisabled
from shop.domain.webhooks import (
    Answer,
    Delivery,
    DeliveryStatus,
    DisabledBecause,
    RetrySchedule,
    Secret,
    UrlPolicy,
    Verdict,
    WebhookEndpoint,
)

from .conftest import SEALER, UowFactory
from .test_repository_contract import NOW

SECRET = Secret(bytes(range(32)))
SCHEDULE = RetrySchedule.parse("1,2,4")
LEASE = timedelta(seconds=60)


def add_endpoint(
    uow_factory: UowFactory, url: str = "https://hooks.example.com/a", **changes: object
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(url=url, event_types=("order.*",), secret=SECRET, created_at=NOW)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    with uow_factory() as uow:
        uow.webhooks.add(endpoint)
        uow.commit()
    assert endpoint.id is not None
    return endpoint


def delivery(endpoint: WebhookEndpoint, aggregate: str = "order:1", event: str = "e-1") -> Delivery:
    assert endpoint.id is not None
    return Delivery(
        endpoint_id=endpoint.id,
        event_id=event,
        event_type="order.placed",
        aggregate=aggregate,
        body=b'{"id":"' + event.encode() + b'"}',
        created_at=NOW,
    )


def add_deliveries(uow_factory: UowFactory, *deliveries: Delivery) -> list[int]:
    with uow_factory() as uow:
        uow.deliveries.add(deliveries)
        uow.commit()
    return [d.id or 0 for d in deliveries]


def claim(
    uow_factory: UowFactory,
    *,
    at: timedelta = timedelta(0),
    limit: int = 10,
    busy: dict[int, int] | None = None,
    per_endpoint: int = 10,
) -> list[Delivery]:
    now = NOW + at
    with uow_factory() as uow:
        claimed = uow.deliveries.claim(now, now + LEASE, limit, busy or {}, per_endpoint)
        uow.commit()
    return claimed


def finish(uow_factory: UowFactory, claimed: Delivery, answer: Answer, *, at: timedelta = timedelta(0)) -> bool:
    claimed.record(answer, at=NOW + at, schedule=SCHEDULE, draw=0)
    with uow_factory() as uow:
        done = uow.deliveries.finish(claimed, NOW + at + LEASE)
        uow.commit()
    return done


class TestEndpoints:
    def test_an_endpoint_reads_back_as_stored_secrets_included(self, uow_factory: UowFactory) -> None:
        made = add_endpoint(uow_factory, description="ERP")
        made.rotate(Secret(bytes(32)), NOW)
        with uow_factory() as uow:
            uow.webhooks.save(made)
            uow.commit()
        with uow_factory() as uow:
            found = uow.webhooks.get(made.id or 0)
            locked = uow.webhooks.get_for_update(made.id or 0)
            assert uow.webhooks.get(999) is None
            assert uow.webhooks.get_for_update(999) is None
        assert found is not None and locked is not None
        for read in (found, locked):
            assert (read.url, read.event_types, read.description, read.enabled) == (made.url, ("order.*",), "ERP", True)
            assert (read.secret, read.previous_secret) == (Secret(bytes(32)), SECRET)
            assert read.previous_secret_until == NOW + timedelta(hours=24)
            assert read.created_at == NOW

    def test_a_change_saved_is_kept_and_its_events_are_published_with_it(self, uow_factory: UowFactory) -> None:
        made = add_endpoint(uow_factory)
        with uow_factory() as uow:
            endpoint = uow.webhooks.get_for_update(made.id or 0)
            assert endpoint is not None
            endpoint.record(Verdict.GONE, NOW, timedelta(hours=72))
            uow.webhooks.save(endpoint)
            uow.commit()
        with uow_factory() as uow:
            stored = uow.webhooks.get(made.id or 0)
            assert stored is not None
            assert (stored.enabled, stored.disabled_reason) == (False, DisabledBecause.GONE)
            [message] = [m for m in uow.outbox.awaiting_webhooks(100) if m.type == "webhook.disabled"]
        assert message.aggregate == f"webhook:{made.id}"

    def test_listed_oldest_first_and_enabled_ones_alone_for_fan_out(self, uow_factory: UowFactory) -> None:
        first = add_endpoint(uow_factory, "https://a.example.com/")
        second = add_endpoint(uow_factory, "https://b.example.com/", enabled=False, failing_since=NOW)
        third = add_endpoint(uow_factory, "https://c.example.com/")
        with uow_factory() as uow:
            page = uow.webhooks.list(Page(1, 2))
            enabled = uow.webhooks.enabled()
            standings = uow.webhooks.standings()
        assert [e.url for e in page.items] == ["https://a.example.com/", "https://b.example.com/"]
        assert page.total == 3
        assert [e.id for e in enabled] == [first.id, third.id]
        assert standings == [
            Standing(first.id or 0, True, None),
            Standing(second.id or 0, False, NOW),
            Standing(third.id or 0, True, None),
        ]

    def test_removing_one_forgets_its_deliveries_too(self, uow_factory: UowFactory) -> None:
        kept, gone = add_endpoint(uow_factory), add_endpoint(uow_factory)
        [kept_id, gone_id] = add_deliveries(uow_factory, delivery(kept), delivery(gone))
        [claimed] = [d for d in claim(uow_factory) if d.endpoint_id == gone.id]
        with uow_factory() as uow:
            uow.webhooks.remove(gone.id or 0)
            uow.commit()
        with uow_factory() as uow:
            assert uow.webhooks.get(gone.id or 0) is None
            assert uow.deliveries.get(gone.id or 0, gone_id) is None
            assert uow.deliveries.get(kept.id or 0, kept_id) is not None
        assert not finish(uow_factory, claimed, Answer(200))


class TestSealing:
    def test_secrets_are_stored_sealed_and_open_with_the_key(self, engine: Engine) -> None:
        uow = SqlUnitOfWork(engine, sealer=SEALER)
        endpoint = WebhookEndpoint(
            url="https://x.example.com/", event_types=("order.*",), secret=SECRET, created_at=NOW
        )
        with uow:
            uow.webhooks.add(endpoint)
            uow.commit()
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one()
        assert SECRET.encoded not in stored and SECRET.encoded[6:] not in stored
        assert SEALER.open(stored) == SECRET.key


class TestOutboxFanOut:
    def test_messages_await_the_webhooks_until_marked_fanned_out(self, uow_factory: UowFactory) -> None:
        messages = [Message("order.placed", "order", n, NOW, {"id": n}) for n in (1, 2, 3)]
        with uow_factory() as uow:
            uow.outbox.add(messages)
            uow.commit()
        with uow_factory() as uow:
            assert uow.outbox.take_fan_out()
            awaiting = uow.outbox.awaiting_webhooks(2)
            assert [entry.aggregate for entry in awaiting] == ["order:1", "order:2"]
            uow.outbox.mark_fanned_out([entry.position for entry in awaiting], NOW)
            uow.commit()
        with uow_factory() as uow:
            [last] = uow.outbox.awaiting_webhooks(10)
            assert last.aggregate == "order:3"
            assert len(uow.outbox.pending(10)) == 3  # the relay's own mark is another matter
            uow.outbox.mark_fanned_out([], NOW)

    def test_purge_keeps_what_an_enabled_endpoint_still_awaits(self, uow_factory: UowFactory) -> None:
        with uow_factory() as uow:
            uow.outbox.add([Message("order.placed", "order", n, NOW, {"id": n}) for n in (1, 2)])
            uow.commit()
        with uow_factory() as uow:
            first, second = uow.outbox.pending(10)
            uow.outbox.mark_sent([first.position, second.position], NOW)
            uow.outbox.mark_fanned_out([first.position], NOW)
            uow.commit()
        endpoint = add_endpoint(uow_factory)
        with uow_factory() as uow:
            assert uow.outbox.purge_sent_before(NOW + timedelta(hours=1)) == 1
            uow.commit()
        with uow_factory() as uow:
            assert [e.position for e in uow.outbox.awaiting_webhooks(10)] == [second.position]
        endpoint.change(enabled=False, now=NOW, policy=UrlPolicy(), known={"order.placed"})
        with uow_factory() as uow:
            uow.webhooks.save(endpoint)
            uow.commit()
        with uow_factory() as uow:  # nobody would receive it any more
            assert uow.outbox.purge_sent_before(NOW + timedelta(hours=1)) == 1
            uow.commit()

    def test_fanning_out_is_taken_by_one_transaction_at_a_time(self, uow_factory: UowFactory) -> None:
        with uow_factory() as uow:
            assert uow.outbox.take_fan_out()


class TestDeliveries:
    def test_added_deliveries_read_back_newest_first_with_their_attempts(self, uow_factory: UowFactory) -> None:
        endpoint = add_endpoint(uow_factory)
        ids = add_deliveries(uow_factory, delivery(endpoint, "order:1", "e-1"), delivery(endpoint, "order:2", "e-2"))
        assert ids == sorted(ids)
        [first, _second] = claim(uow_factory)
        assert first.attempts == []
        assert finish(uow_factory, first, Answer(500, duration_ms=7, body=b"down"))
        with uow_factory() as uow:
            listed = uow.deliveries.list(endpoint.id or 0, Page(1, 10))
            one = uow.deliveries.get(endpoint.id or 0, ids[0])
            assert uow.deliveries.get(endpoint.id or 0, 999_999) is None
            assert uow.deliveries.get(999, ids[0]) is None
        assert [d.id for d in listed.items] == list(reversed(ids))
        assert listed.total == 2
        assert one is not None
        assert (one.status, one.tries, one.next_attempt_at) == (
            DeliveryStatus.RETRYING,
            1,
            NOW + timedelta(seconds=1),
        )
        assert [(a.status_code, a.duration_ms, a.response_body) for a in one.attempts] == [(500, 7, "down")]
        assert (one.event_id, one.event_type, one.aggregate, one.body) == (
            "e-1",
            "order.placed",
            "order:1",
            b'{"id":"e-1"}',
        )

    def test_a_claimed_delivery_is_claimed_by_nobody_else_until_its_lease_lapses(self, uow_factory: UowFactory) -> None:
        endpoint = add_endpoint(uow_factory)
        add_deliveries(uow_factory, delivery(endpoint))
        [claimed] = claim(uow_factory)
        assert claim(uow_factory, at=timedelta(seconds=59)) == []
        [again] = claim(uow_factory, at=LEASE)
        assert again.id == claimed.id
        assert not finish(uow_factory, claimed, Answer(200))  # the first claim lapsed
        assert finish(uow_factory, again, Answer(200), at=LEASE)
        assert claim(uow_factory, at=LEASE * 3) == []

    def test_one_aggregate_waits_for_its_earlier_event_others_go_on(self, uow_factory: UowFactory) -> None:
        endpoint = add_endpoint(uow_factory)
        other = add_endpoint(uow_factory)
        ids = add_deliveries(
            uow_factory,
            delivery(endpoint, "order:1", "placed"),
            delivery(endpoint, "order:1", "cancelled"),
            delivery(endpoint, "order:2", "placed-2"),
            delivery(other, "order:1", "placed"),
        )
        first = claim(uow_factory)
        assert [d.id for d in first] == [ids[0], ids[2], ids[3]]
        assert finish(uow_factory, first[0], Answer(503))
        assert claim(uow_factory, at=timedelta(seconds=0.5)) == []  # placed retries at 1 s; cancelled waits
        [retry] = claim(uow_factory, at=timedelta(seconds=1))
        assert retry.id == ids[0]
        assert finish(uow_factory, retry, Answer(400), at=timedelta(seconds=1))  # given up
        [after] = claim(uow_factory, at=timedelta(seconds=1))
        assert after.id == ids[1]

    def test_deliveries_of_a_disabled_endpoint_wait_and_resume_when_enabled(self, uow_factory: UowFactory) -> None:
        endpoint = add_endpoint(uow_factory, enabled=False, disabled_reason=DisabledBecause.MANAGER)
        add_deliveries(uow_factory, delivery(endpoint))
        assert claim(uow_factory) == []
        with uow_factory() as uow:
            assert uow.deliveries.backlog() == DeliveryBacklog(0, None)
        endpoint.enable()
        with uow_factory() as uow:
            uow.webhooks.save(endpoint)
            uow.commit()
        with uow_factory() as uow:
            assert uow.deliveries.backlog() == DeliveryBacklog(1, NOW)
        assert len(claim(uow_factory)) == 1

    def test_a_claim_keeps_to_the_limit_and_each_endpoints_share(self, uow_factory: UowFactory) -> None:
        slow, fast = add_endpoint(uow_factory), add_endpoint(uow_factory)
        add_deliveries(uow_factory, *(delivery(slow, f"order:{n}", f"s{n}") for n in range(6)))
        add_deliveries(uow_factory, *(delivery(fast, f"order:{n}", f"f{n}") for n in range(2)))
        claimed = claim(uow_factory, limit=4, per_endpoint=2, busy={slow.id or 0: 1})
        assert sorted(d.endpoint_id for d in claimed) == sorted([slow.id or 0, fast.id or 0, fast.id or 0])
        assert claim(uow_factory, limit=4, per_endpoint=2, busy={slow.id or 0: 2, fast.id or 0: 2}) == []
        assert len(claim(uow_factory, limit=2, per_endpoint=10)) == 2

    def test_a_redelivery_voids_a_claim_in_flight_and_starts_again(self, uow_factory: UowFactory) -> None:
        endpoint = add_endpoint(uow_factory)
        [delivery_id] = add_deliveries(uow_factory, delivery(endpoint))
        [claimed] = claim(uow_factory)
        with uow_factory() as uow:
            found = uow.deliveries.get(endpoint.id or 0, delivery_id)
            assert found is not None
            found.redeliver(NOW + timedelta(seconds=5))
            uow.deliveries.save(found)
            uow.commit()
        assert not finish(uow_factory, claimed, Answer(200))
        [again] = claim(uow_factory, at=timedelta(seconds=5))
        assert again.id == delivery_id

    def test_finished_deliveries_are_purged_waiting_ones_kept(self, uow_factory: UowFactory) -> None:
        endpoint = add_endpoint(uow_factory)
        done_id, waiting_id = add_deliveries(
            uow_factory, delivery(endpoint, "order:1", "a"), delivery(endpoint, "order:2", "b")
        )
        [done, waiting] = claim(uow_factory)
        assert finish(uow_factory, done, Answer(200))
        assert finish(uow_factory, waiting, Answer(500))
        with uow_factory() as uow:
            assert uow.deliveries.purge_finished_before(NOW) == 0
            assert uow.deliveries.purge_finished_before(NOW + timedelta(seconds=1)) == 1
            uow.commit()
        with uow_factory() as uow:
            assert uow.deliveries.get(endpoint.id or 0, done_id) is None
            assert uow.deliveries.get(endpoint.id or 0, waiting_id) is not None
            assert uow.deliveries.backlog() == DeliveryBacklog(1, NOW)


def test_the_disabled_event_carries_the_endpoint_without_its_secret(uow_factory: UowFactory) -> None:
    endpoint = add_endpoint(uow_factory)
    with uow_factory() as uow:
        locked = uow.webhooks.get_for_update(endpoint.id or 0)
        assert locked is not None
        locked.disable(DisabledBecause.FAILING, now=NOW)
        assert isinstance(locked.events[0], WebhookDisabled)
        uow.webhooks.save(locked)
        uow.commit()
    with uow_factory() as uow:
        [message] = uow.outbox.awaiting_webhooks(10)
    assert SECRET.encoded.encode() not in message.body
    assert b'"reason":"failing"' in message.body.replace(b" ", b"")
