"""Deliveries to real HTTP receivers on loopback, through the real sender, deliverer and database
(SQLite and PostgreSQL), with a short schedule (1, 2, 4 s): every retry rule, the signature as the
standardwebhooks library verifies it, order per aggregate, and the address rules at connect time."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shop.adapters.security import SystemClock
from shop.adapters.webhook_http import SafeSender, SystemResolver
from shop.application.messages import Message
from shop.application.ports.paging import Page
from shop.application.webhooks import Deliverer, DelivererSettings
from shop.domain.webhooks import DeliveryStatus, DisabledBecause, RetrySchedule, Secret, WebhookEndpoint
from tests.receivers import Received, Receiver, Reply, always, in_turn, receiving

from .conftest import SqlUowFactory

SECRET = Secret(bytes(range(32)))
SETTINGS = DelivererSettings(schedule=RetrySchedule.parse("1,2,4"), idle_wait_s=0.05, concurrency=4)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


class StaticResolver:
    """Names resolved as a test says; anything else as the system would."""

    def __init__(self, **answers: list[str]) -> None:
        self.answers = {name.replace("_", "."): addresses for name, addresses in answers.items()}
        self.asked: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host in self.answers:
            return self.answers[host]
        return SystemResolver().resolve(host, port)


def sender(*, allow_private: bool = True, resolver: object = None, total_timeout: float = 15.0) -> SafeSender:
    return SafeSender(
        resolver or SystemResolver(),  # type: ignore[arg-type]
        user_agent="shop-webhooks/test",
        allow_private=allow_private,
        total_timeout=total_timeout,
    )


def add_endpoint(uows: SqlUowFactory, url: str, events: tuple[str, ...] = ("order.*",)) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(url=url, event_types=events, secret=SECRET, created_at=LONG_AGO)
    with uows() as uow:
        uow.webhooks.add(endpoint)
        uow.commit()
    return endpoint


def publish(uows: SqlUowFactory, kind: str, aggregate_id: int) -> bytes:
    """A message in the outbox, as a use case writes it; its body, as the relay would publish it."""
    with uows() as uow:
        uow.outbox.add([Message(kind, kind.partition(".")[0], aggregate_id, datetime.now(UTC), {"id": aggregate_id})])
        uow.commit()
    with uows() as uow:  # no relay runs: every message is pending
        mine = [e for e in uow.outbox.pending(10_000) if (e.type, e.aggregate) == (kind, f"order:{aggregate_id}")]
    return mine[-1].body


@contextmanager
def delivering(uows: SqlUowFactory, via: SafeSender, settings: DelivererSettings = SETTINGS) -> Iterator[Deliverer]:
    stop = threading.Event()
    deliverer = Deliverer(uow=uows, sender=via, clock=SystemClock(), wait=stop.wait, settings=settings)
    thread = threading.Thread(target=deliverer.run, name="deliverer")
    thread.start()
    try:
        yield deliverer
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def delivery_log(uows: SqlUowFactory, endpoint: WebhookEndpoint) -> list[tuple[str, list[int | None]]]:
    with uows() as uow:
        found = uow.deliveries.list(endpoint.id or 0, Page(1, 100)).items
    return [(d.status.value, [a.status_code for a in d.attempts]) for d in reversed(found)]


def free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: object, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)


def test_a_delivery_is_the_outbox_body_signed_as_standard_webhooks_says(sql_uow_factory: SqlUowFactory) -> None:
    with receiving() as receiver, delivering(sql_uow_factory, sender()):
        endpoint = add_endpoint(sql_uow_factory, receiver.url)
        body = publish(sql_uow_factory, "order.placed", 7)
        [request] = receiver.wait_for(1)

    assert request.body == body
    event = request.verify(SECRET.encoded)
    assert request.webhook_id == event["id"]
    assert (event["type"], event["aggregate_id"], set(event)) == (
        "order.placed",
        7,
        {"id", "type", "occurred_at", "aggregate_id", "data"},
    )
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "shop-webhooks/test"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert request.path == "/hook"
    assert abs(int(request.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 30
    wait_until(lambda: delivery_log(sql_uow_factory, endpoint) == [("succeeded", [200])])


def test_500_then_200_is_retried_on_the_schedule_with_the_same_id(sql_uow_factory: SqlUowFactory) -> None:
    with receiving(in_turn(Reply(500, body=b"oops"))) as receiver, delivering(sql_uow_factory, sender()):
        endpoint = add_endpoint(sql_uow_factory, receiver.url)
        publish(sql_uow_factory, "order.placed", 1)
        first, second = receiver.wait_for(2)
        wait_until(lambda: delivery_log(sql_uow_factory, endpoint) == [("succeeded", [500, 200])])

    assert first.webhook_id == second.webhook_id
    assert 1.0 <= second.at - first.at < 3.0
    first.verify(SECRET.encoded)
    second.verify(SECRET.encoded)
    with sql_uow_factory() as uow:
        [logged] = uow.deliveries.list(endpoint.id or 0, Page(1, 10)).items
    assert logged.attempts[0].response_body == "oops"
    assert logged.attempts[0].duration_ms >= 0


def test_429_is_retried_no_sooner_than_its_retry_after(sql_uow_factory: SqlUowFactory) -> None:
    script = in_turn(Reply(429, headers={"Retry-After": "2"}))
    with receiving(script) as receiver, delivering(sql_uow_factory, sender()):
        endpoint = add_endpoint(sql_uow_factory, receiver.url)
        publish(sql_uow_factory, "order.placed", 1)
        first, second = receiver.wait_for(2)
        wait_until(lambda: delivery_log(sql_uow_factory, endpoint) == [("succeeded", [429, 200])])

    assert second.at - first.at >= 2.0  # the schedule alone would have waited 1 s


def test_410_disables_the_endpoint_at_once_and_publishes_it(sql_uow_factory: SqlUowFactory) -> None:
    with receiving(always(Reply(410))) as receiver, delivering(sql_uow_factory, sender()):
        endpoint = add_endpoint(sql_uow_factory, receiver.url)
        publish(sql_uow_factory, "order.placed", 1)
        receiver.wait_for(1)
        wait_until(lambda: delivery_log(sql_uow_factory, endpoint) == [("failed", [410])])
        publish(sql_uow_factory, "order.placed", 2)
        with sql_uow_factory() as uow:
            stored = uow.webhooks.get(endpoint.id or 0)
            disabled = [json.loads(e.body) for e in uow.outbox.pending(100) if e.type == "webhook.disabled"]
    assert stored is not None
    assert (stored.enabled, stored.disabled_reason) == (False, DisabledBecause.GONE)
    [event] = disabled
    assert event["data"]["id"] == endpoint.id and event["data"]["reason"] == "gone"
    assert len(receiver.received) == 1


@pytest.mark.parametrize("status", [400, 404])
def test_other_4xx_fail_without_retry(sql_uow_factory: SqlUowFactory, status: int) -> None:
    with receiving(always(Reply(status))) as receiver, delivering(sql_uow_factory, sender()):
        endpoint = add_endpoint(sql_uow_factory, receiver.url)
        publish(sql_uow_factory, "order.placed", 1)
        wait_until(lambda: delivery_log(sql_uow_factory, endpoint) == [("failed", [status])])
        receiver.wait_for(1)
    assert len(receiver.received) == 1
    with sql_uow_factory() as uow:
        stored = uow.webhooks.get(endpoint.id or 0)
    assert stored is not None and stored.enabled and stored.failing_since is not None


def test_a_slow_answer_past_the_timeout_is_retried(sql_uow_factory: SqlUowFactory) -> None:
    script = in_turn(Reply(200, delay_s=3.0))
    with receiving(script) as receiver, delivering(sql_uow_factory, sender(total_timeout=1.0)):
        endpoint = add_endpoint(sql_uow_factory, receiver.url)
        publish(sql_uow_factory, "order.placed", 1)
        first, second = receiver.wait_for(2)
        wait_until(lambda: delivery_log(sql_uow_factory, endpoint) == [("succeeded", [None, 200])])
    with sql_uow_factory() as uow:
        [logged] = uow.deliveries.list(endpoint.id or 0, Page(1, 10)).items
    assert logged.attempts[0].error == "timed out after 1 s"
    assert 900 <= logged.attempts[0].duration_ms < 2500
    assert first.webhook_id == second.webhook_id


def test_no_connection_is_retried_and_a_redirect_is_not_followed(sql_uow_factory: SqlUowFactory) -> None:
    with receiving() as target:
        script = in_turn(Reply(302, headers={"Location": target.url}), Reply(307, headers={"Location": target.url}))
        with receiving(script) as redirecting, delivering(sql_uow_factory, sender()):
            gone = add_endpoint(sql_uow_factory, f"http://127.0.0.1:{free_port()}/hook")
            moved = add_endpoint(sql_uow_factory, redirecting.url)
            publish(sql_uow_factory, "order.placed", 1)
            redirecting.wait_for(3)
            wait_until(lambda: delivery_log(sql_uow_factory, moved) == [("succeeded", [302, 307, 200])])
            wait_until(lambda: [len(codes) >= 2 for _, codes in delivery_log(sql_uow_factory, gone)] == [True])
    assert target.received == []
    with sql_uow_factory() as uow:
        [logged] = uow.deliveries.list(gone.id or 0, Page(1, 10)).items
    assert logged.status is DeliveryStatus.RETRYING
    assert all(a.error and a.error.startswith("could not connect") for a in logged.attempts)


def test_an_aggregates_later_event_waits_for_the_earlier_others_go_on(sql_uow_factory: SqlUowFactory) -> None:
    tries: dict[bytes, int] = {}

    def script(request: Received, _count: int) -> Reply:
        """Order 1's placed fails twice; everything else succeeds at once."""
        tries[request.body] = tries.get(request.body, 0) + 1
        event = json.loads(request.body)
        failing = (event["aggregate_id"], event["type"]) == (1, "order.placed") and tries[request.body] < 3
        return Reply(500) if failing else Reply()

    receiver = Receiver(script).start()
    try:
        with delivering(sql_uow_factory, sender()):
            add_endpoint(sql_uow_factory, receiver.url)
            publish(sql_uow_factory, "order.placed", 1)
            publish(sql_uow_factory, "order.cancelled", 1)
            publish(sql_uow_factory, "order.placed", 2)
            receiver.wait_for(5, timeout=30)
    finally:
        receiver.stop()
    arrived = [(json.loads(r.body)["aggregate_id"], json.loads(r.body)["type"]) for r in receiver.received]
    assert arrived.index((2, "order.placed")) < arrived.index((1, "order.cancelled"))  # 2 not held up by 1
    assert arrived[-1] == (1, "order.cancelled")  # after 1's placed, at its third try
    assert [a for a in arrived if a[0] == 1] == [(1, "order.placed")] * 3 + [(1, "order.cancelled")]


def test_during_a_rotation_both_secrets_sign(sql_uow_factory: SqlUowFactory) -> None:
    new = Secret(bytes(32))
    with receiving() as receiver, delivering(sql_uow_factory, sender()):
        endpoint = add_endpoint(sql_uow_factory, receiver.url)
        endpoint.rotate(new, datetime.now(UTC))
        with sql_uow_factory() as uow:
            uow.webhooks.save(endpoint)
            uow.commit()
        publish(sql_uow_factory, "order.placed", 1)
        [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    request.verify(new.encoded)
    request.verify(SECRET.encoded)


def test_an_endpoint_failing_for_the_whole_period_is_disabled(sql_uow_factory: SqlUowFactory) -> None:
    settings = replace(
        SETTINGS, schedule=RetrySchedule.parse("0.5,0.5,0.5,0.5,0.5,0.5"), disable_after=timedelta(seconds=1.2)
    )
    with receiving(always(Reply(503))) as receiver, delivering(sql_uow_factory, sender(), settings):
        endpoint = add_endpoint(sql_uow_factory, receiver.url)
        publish(sql_uow_factory, "order.placed", 1)

        def disabled() -> bool:
            with sql_uow_factory() as uow:
                stored = uow.webhooks.get(endpoint.id or 0)
            return stored is not None and not stored.enabled

        wait_until(disabled)
    with sql_uow_factory() as uow:
        stored = uow.webhooks.get(endpoint.id or 0)
        events = [json.loads(e.body)["data"] for e in uow.outbox.pending(100) if e.type == "webhook.disabled"]
    assert stored is not None and stored.disabled_reason is DisabledBecause.FAILING
    assert [e["reason"] for e in events] == ["failing"]
    assert 2 <= len(receiver.received) <= 5


class TestAddressesAtConnectTime:
    def test_a_name_resolving_to_loopback_is_refused_without_the_flag(self, sql_uow_factory: SqlUowFactory) -> None:
        with receiving() as receiver:
            resolver = StaticResolver(hooks_example_com=["127.0.0.1"])
            via = sender(allow_private=False, resolver=resolver)
            with delivering(sql_uow_factory, via):
                endpoint = add_endpoint(sql_uow_factory, f"http://hooks.example.com:{receiver.port}/hook")
                publish(sql_uow_factory, "order.placed", 1)
                wait_until(lambda: [status for status, _ in delivery_log(sql_uow_factory, endpoint)] == ["retrying"])
        assert receiver.received == []
        assert "hooks.example.com" in resolver.asked
        with sql_uow_factory() as uow:
            [logged] = uow.deliveries.list(endpoint.id or 0, Page(1, 10)).items
        assert logged.attempts[0].error == (
            "refused: hooks.example.com resolves to 127.0.0.1 is a loopback, private, shared or multicast address"
        )

    def test_a_name_that_rebinds_after_creation_is_refused_when_connecting(
        self, sql_uow_factory: SqlUowFactory
    ) -> None:
        resolver = StaticResolver(rebind_example_com=["93.184.216.34"])
        with receiving() as receiver:
            via = sender(allow_private=False, resolver=resolver)
            assert resolver.resolve("rebind.example.com", 80) == ["93.184.216.34"]  # what creation saw
            resolver.answers["rebind.example.com"] = ["93.184.216.34", "10.0.0.7"]
            answer = via.send(f"http://rebind.example.com:{receiver.port}/", b"{}", {})
        assert (
            answer.error
            == "refused: rebind.example.com resolves to 10.0.0.7 is a loopback, private, shared or multicast address"
        )
        assert receiver.received == []

    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://metadata.example.com/",
            "http://user:pw@127.0.0.1/",
            "ftp://127.0.0.1/",
        ],
    )
    def test_metadata_credentials_and_other_schemes_are_refused_even_with_the_flag(self, url: str) -> None:
        resolver = StaticResolver(metadata_example_com=["169.254.169.254"])
        answer = sender(allow_private=True, resolver=resolver).send(url, b"{}", {})
        assert answer.status_code is None
        assert answer.error is not None and answer.error.startswith("refused")

    def test_plain_http_is_refused_in_production(self) -> None:
        via = SafeSender(SystemResolver(), user_agent="x", production=True)
        answer = via.send("http://93.184.216.34/", b"{}", {})
        assert answer.error == "refused: Plain http is refused in production: use https."


def test_two_deliverers_at_once_send_each_delivery_once_in_order(sql_uow_factory: SqlUowFactory) -> None:
    with receiving() as receiver:
        add_endpoint(sql_uow_factory, receiver.url)
        for n in range(60):
            publish(sql_uow_factory, "order.placed", n % 20)
        with delivering(sql_uow_factory, sender()), delivering(sql_uow_factory, sender()):
            receiver.wait_for(60)
            time_for_a_duplicate = 0.5
            threading.Event().wait(time_for_a_duplicate)
    ids = [request.webhook_id for request in receiver.received]
    assert len(ids) == len(set(ids)) == 60
    positions = {event_id: n for n, event_id in enumerate(ids)}
    with sql_uow_factory() as uow:
        written = [e for e in uow.outbox.pending(1000) if e.type == "order.placed"]
    for aggregate in {entry.aggregate for entry in written}:
        mine = [positions[e.id] for e in written if e.aggregate == aggregate]
        assert mine == sorted(mine), aggregate
