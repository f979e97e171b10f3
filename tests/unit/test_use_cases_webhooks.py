"""The webhook use cases and the deliverer on the in-memory store: who may do what, which messages
become which deliveries, and what the deliverer does with each answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.application import webhooks
from shop.application.actors import Actor
from shop.application.errors import Forbidden, NotFound
from shop.application.messages import Message
from shop.application.ports.paging import Page
from shop.application.webhooks import Deliverer, DelivererSettings, WebhookChanges
from shop.domain.errors import InvalidValue
from shop.domain.users import Role
from shop.domain.webhooks import Answer, DeliveryStatus, DisabledBecause, RetrySchedule, Secret, UrlPolicy
from tests.fakes import FakeClock, FixedResolver, ScriptedSender

MANAGER = Actor(1, Role.MANAGER)
CUSTOMER = Actor(2, Role.CUSTOMER)
POLICY = UrlPolicy()
RESOLVER = FixedResolver(hooks_example_com=["93.184.216.34"], inside_example_com=["192.168.0.9"])


@pytest.fixture
def uow(store: MemoryStore) -> Any:
    return lambda: MemoryUnitOfWork(store)


def create(
    uow: Any, clock: FakeClock, *, events: tuple[str, ...] = ("order.*",), url: str = "https://hooks.example.com/"
) -> Any:
    return webhooks.create_webhook(
        uow=uow(), clock=clock, resolver=RESOLVER, policy=POLICY, actor=MANAGER, url=url, events=events
    )


def publish(uow: Any, clock: FakeClock, kind: str, aggregate_id: int) -> None:
    with uow() as unit:
        unit.outbox.add([Message(kind, kind.partition(".")[0], aggregate_id, clock.now(), {"id": aggregate_id})])
        unit.commit()


def deliveries(uow: Any, endpoint_id: int) -> list[Any]:
    with uow() as unit:
        return list(reversed(unit.deliveries.list(endpoint_id, Page(1, 100)).items))


class TestManaging:
    def test_only_managers_manage_webhooks(self, uow: Any, clock: FakeClock) -> None:
        endpoint = create(uow, clock)
        with pytest.raises(Forbidden):
            webhooks.create_webhook(
                uow=uow(),
                clock=clock,
                resolver=RESOLVER,
                policy=POLICY,
                actor=CUSTOMER,
                url="https://x.y/",
                events=["order.*"],
            )
        for call in (
            lambda: webhooks.list_webhooks(uow=uow(), actor=CUSTOMER, page=Page()),
            lambda: webhooks.get_webhook(uow=uow(), actor=CUSTOMER, webhook_id=endpoint.id),
            lambda: webhooks.rotate_secret(uow=uow(), clock=clock, actor=CUSTOMER, webhook_id=endpoint.id),
            lambda: webhooks.ping_webhook(uow=uow(), clock=clock, actor=CUSTOMER, webhook_id=endpoint.id),
            lambda: webhooks.delete_webhook(uow=uow(), actor=CUSTOMER, webhook_id=endpoint.id),
        ):
            with pytest.raises(Forbidden):
                call()

    def test_a_new_endpoint_gets_32_random_bytes_as_its_secret(self, uow: Any, clock: FakeClock) -> None:
        first, second = create(uow, clock), create(uow, clock)
        assert len(first.secret.key) == 32
        assert first.secret != second.secret

    def test_a_name_resolving_to_a_refused_address_is_refused_an_unknown_one_taken(
        self, uow: Any, clock: FakeClock
    ) -> None:
        with pytest.raises(InvalidValue, match=r"192\.168\.0\.9"):
            create(uow, clock, url="https://inside.example.com/")
        assert create(uow, clock, url="https://not-yet.example.com/").id is not None
        allowed = webhooks.create_webhook(
            uow=uow(),
            clock=clock,
            resolver=RESOLVER,
            policy=UrlPolicy(allow_private=True),
            actor=MANAGER,
            url="https://inside.example.com/",
            events=["order.*"],
        )
        assert allowed.id is not None

    def test_an_update_rechecks_a_new_url_and_needs_a_field(self, uow: Any, clock: FakeClock) -> None:
        endpoint = create(uow, clock)

        def update(changes: WebhookChanges) -> Any:
            return webhooks.update_webhook(
                uow=uow(),
                clock=clock,
                resolver=RESOLVER,
                policy=POLICY,
                actor=MANAGER,
                webhook_id=endpoint.id,
                changes=changes,
            )

        with pytest.raises(InvalidValue):
            update(WebhookChanges())
        with pytest.raises(InvalidValue):
            update(WebhookChanges(url="https://inside.example.com/"))
        with pytest.raises(NotFound):
            webhooks.get_webhook(uow=uow(), actor=MANAGER, webhook_id=999)
        assert update(WebhookChanges(events=("product.*",), description="catalog")).event_types == ("product.*",)

    def test_rotation_keeps_the_old_secret_for_a_day(self, uow: Any, clock: FakeClock) -> None:
        endpoint = create(uow, clock)
        rotated = webhooks.rotate_secret(
            uow=uow(), clock=clock, actor=MANAGER, webhook_id=endpoint.id, make_secret=lambda: Secret(bytes(32))
        )
        assert rotated.signing_secrets(clock.now()) == [Secret(bytes(32)), endpoint.secret]


class TestFanOut:
    def test_a_message_becomes_one_delivery_per_enabled_subscribed_endpoint(self, uow: Any, clock: FakeClock) -> None:
        orders = create(uow, clock, events=("order.*",))
        placed = create(uow, clock, events=("order.placed",))
        products = create(uow, clock, events=("product.*",))
        off = create(uow, clock)
        webhooks.update_webhook(
            uow=uow(), clock=clock, resolver=RESOLVER, policy=POLICY, actor=MANAGER, webhook_id=off.id,
            changes=WebhookChanges(enabled=False),
        )  # fmt: skip
        publish(uow, clock, "order.placed", 1)
        publish(uow, clock, "order.cancelled", 1)

        assert webhooks.fan_out(uow=uow(), clock=clock, limit=10) == 2
        assert webhooks.fan_out(uow=uow(), clock=clock, limit=10) == 0
        assert [d.event_type for d in deliveries(uow, orders.id)] == ["order.placed", "order.cancelled"]
        assert [d.event_type for d in deliveries(uow, placed.id)] == ["order.placed"]
        assert deliveries(uow, products.id) == deliveries(uow, off.id) == []
        with uow() as unit:
            [body] = [e.body for e in unit.outbox.pending(10) if e.type == "order.placed"]
        assert deliveries(uow, orders.id)[0].body == body
        assert deliveries(uow, orders.id)[0].aggregate == "order:1"

    def test_an_endpoint_gets_no_event_older_than_itself(self, uow: Any, clock: FakeClock) -> None:
        publish(uow, clock, "order.placed", 1)
        clock.advance(timedelta(seconds=1))
        endpoint = create(uow, clock)
        publish(uow, clock, "order.placed", 2)
        webhooks.fan_out(uow=uow(), clock=clock, limit=10)
        assert [d.aggregate for d in deliveries(uow, endpoint.id)] == ["order:2"]

    def test_a_ping_goes_to_its_endpoint_alone_through_no_outbox(self, uow: Any, clock: FakeClock) -> None:
        endpoint = create(uow, clock, events=("product.deleted",))
        other = create(uow, clock)
        ping = webhooks.ping_webhook(uow=uow(), clock=clock, actor=MANAGER, webhook_id=endpoint.id)
        assert [d.id for d in deliveries(uow, endpoint.id)] == [ping.id]
        assert deliveries(uow, other.id) == []
        with uow() as unit:
            assert unit.outbox.pending(10) == []
        with pytest.raises(NotFound):
            webhooks.ping_webhook(uow=uow(), clock=clock, actor=MANAGER, webhook_id=999)


def deliverer(uow: Any, clock: FakeClock, sender: ScriptedSender, **settings: Any) -> Deliverer:
    chosen = DelivererSettings(schedule=RetrySchedule.parse("1,2"), **settings)
    return Deliverer(uow=uow, sender=sender, clock=clock, wait=lambda _seconds: True, settings=chosen, draw=lambda: 0.0)


def attempt_due(uow: Any, clock: FakeClock, run: Deliverer) -> int:
    now = clock.now()
    until = now + timedelta(seconds=60)
    with uow() as unit:
        claimed = unit.deliveries.claim(now, until, 10, {}, 10)
        endpoints = {d.endpoint_id: unit.webhooks.get(d.endpoint_id) for d in claimed}
        unit.commit()
    for delivery in claimed:
        run.attempt(delivery, endpoints[delivery.endpoint_id], until)
    return len(claimed)


class TestDeliverer:
    def test_each_attempt_is_signed_with_the_event_id_and_logged(self, uow: Any, clock: FakeClock) -> None:
        endpoint = create(uow, clock)
        publish(uow, clock, "order.placed", 1)
        webhooks.fan_out(uow=uow(), clock=clock, limit=10)
        sender = ScriptedSender(Answer(500), Answer(200))
        run = deliverer(uow, clock, sender)

        assert attempt_due(uow, clock, run) == 1
        assert attempt_due(uow, clock, run) == 0  # retrying in 1 s
        clock.advance(timedelta(seconds=1))
        assert attempt_due(uow, clock, run) == 1
        [(url, _, headers), (_, _, again)] = sender.sent
        assert url == endpoint.url
        [delivery] = deliveries(uow, endpoint.id)
        assert headers["webhook-id"] == again["webhook-id"] == delivery.event_id
        assert headers["webhook-signature"].startswith("v1,")
        assert (delivery.status, [a.status_code for a in delivery.attempts]) == (DeliveryStatus.SUCCEEDED, [500, 200])

    def test_failing_for_the_whole_period_disables_the_endpoint(self, uow: Any, clock: FakeClock) -> None:
        endpoint = create(uow, clock)
        run = deliverer(uow, clock, ScriptedSender(Answer(500)), disable_after=timedelta(hours=72))
        for n in range(3):
            publish(uow, clock, "order.placed", n)
        webhooks.fan_out(uow=uow(), clock=clock, limit=10)
        attempt_due(uow, clock, run)
        clock.advance(timedelta(hours=72))
        attempt_due(uow, clock, run)
        found = webhooks.get_webhook(uow=uow(), actor=MANAGER, webhook_id=endpoint.id)
        assert (found.enabled, found.disabled_reason) == (False, DisabledBecause.FAILING)
        with uow() as unit:
            assert [e.type for e in unit.outbox.pending(10)].count("webhook.disabled") == 1

    def test_a_redelivery_sends_again_with_the_same_id(self, uow: Any, clock: FakeClock) -> None:
        endpoint = create(uow, clock)
        ping = webhooks.ping_webhook(uow=uow(), clock=clock, actor=MANAGER, webhook_id=endpoint.id)
        sender = ScriptedSender(Answer(400))
        run = deliverer(uow, clock, sender)
        attempt_due(uow, clock, run)
        assert deliveries(uow, endpoint.id)[0].status is DeliveryStatus.FAILED
        again = webhooks.redeliver(
            uow=uow(), clock=clock, actor=MANAGER, webhook_id=endpoint.id, delivery_id=ping.id or 0
        )
        assert again.status is DeliveryStatus.PENDING
        attempt_due(uow, clock, run)
        assert sender.sent[0][2]["webhook-id"] == sender.sent[1][2]["webhook-id"] == ping.event_id
        with pytest.raises(NotFound):
            webhooks.redeliver(uow=uow(), clock=clock, actor=MANAGER, webhook_id=endpoint.id, delivery_id=999)

    def test_the_log_is_purged_after_its_retention(self, uow: Any, clock: FakeClock) -> None:
        endpoint = create(uow, clock)
        webhooks.ping_webhook(uow=uow(), clock=clock, actor=MANAGER, webhook_id=endpoint.id)
        attempt_due(uow, clock, deliverer(uow, clock, ScriptedSender()))
        assert webhooks.purge_webhook_log(uow=uow(), clock=clock, retention=timedelta(days=1)) == 0
        clock.advance(timedelta(days=1, seconds=1))
        assert webhooks.purge_webhook_log(uow=uow(), clock=clock, retention=timedelta(days=1)) == 1
        health = webhooks.webhook_health(uow=uow())
        assert (health.backlog.waiting, [s.endpoint_id for s in health.standings]) == (0, [endpoint.id])
