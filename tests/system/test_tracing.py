"""One order, one trace: real gunicorn, `shop relay` and `shop webhooks` processes export to a real
OTLP/HTTP receiver on loopback (the protobuf decoded with opentelemetry-proto), and the consumer's
AMQP message and the webhook request carry the trace on."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pika
import pytest

from shop.adapters.amqp import EXCHANGE, declare
from tests.otlp import OtlpReceiver, ReceivedSpan
from tests.receivers import receiving

from .conftest import RelayStarter, Starter, WebhooksStarter

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
KEY = secrets.token_urlsafe(36)
WEBHOOKS = {"SHOP_ENV": "development", "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_SECRET_KEY": KEY}


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


def test_one_order_is_one_trace_across_the_api_the_relay_and_the_deliverer(
    start: Starter, start_relay: RelayStarter, start_webhooks: WebhooksStarter, otlp: OtlpReceiver, broker_url: str
) -> None:
    # Spans leave each process within 100 ms of ending (the batch processor's OTEL_BSP_SCHEDULE_DELAY).
    tracing = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    declare(channel)
    queue = f"system-test-{uuid.uuid4()}"
    channel.queue_declare(queue, exclusive=True)
    channel.queue_bind(queue, EXCHANGE, routing_key="order.placed")
    try:
        with receiving() as hooks:
            (api,) = start(1, **WEBHOOKS, **tracing)
            manager = api.manager("boss")
            product = api.product(manager, "Traced tea", stock=10)
            api.expect(201, "POST", "/webhooks/", {"url": hooks.url, "events": ["order.placed"]}, token=manager)
            customer = api.customer("carol")
            start_relay(broker_url, **tracing)
            start_webhooks(**WEBHOOKS, **tracing)

            reply = api.call(
                "POST",
                "/orders/",
                {"items": [{"product": product, "quantity": 1}]},
                token=customer,
                headers={"traceparent": TRACEPARENT},
            )
            assert reply.status == 201, api.explain(reply.body)
            [hook] = hooks.wait_for(1)

            def whole(spans: list[ReceivedSpan]) -> bool:
                services = {s.service for s in spans if s.trace_id == TRACE_ID}
                return services >= {"shop-api", "shop-relay", "shop-webhooks"}

            spans = [s for s in otlp.wait_until(whole) if s.trace_id == TRACE_ID]
        method, properties, _body = channel.basic_get(queue, auto_ack=True)
    finally:
        connection.close()

    assert otlp.content_types == {"application/x-protobuf"}
    [server] = [s for s in spans if s.kind == "SERVER"]
    assert (server.service, server.name, server.parent_id) == ("shop-api", "POST /orders/", "b7ad6b7169203331")
    assert server.attributes["http.route"] == "/orders/"
    assert server.attributes["http.response.status_code"] == 201
    by_id = {s.span_id: s for s in spans}
    [use_case] = [s for s in spans if s.name == "place_order"]
    assert use_case.parent_id == server.span_id
    assert any(s.attributes.get("db.system") == "postgresql" for s in spans if s.service == "shop-api")

    [publish] = [s for s in spans if s.kind == "PRODUCER"]
    assert publish.service == "shop-relay"
    assert publish.attributes["messaging.rabbitmq.destination.routing_key"] == "order.placed"
    assert by_id[publish.parent_id].service == "shop-api"  # under the request's use case
    assert method is not None
    assert (properties.headers or {})["traceparent"] == f"00-{TRACE_ID}-{publish.span_id}-01"

    [request] = [s for s in spans if s.service == "shop-webhooks" and s.kind == "CLIENT"]
    assert request.attributes["http.response.status_code"] == 200
    assert by_id[request.parent_id].service == "shop-api"
    assert hook.headers["traceparent"] == f"00-{TRACE_ID}-{request.span_id}-01"
