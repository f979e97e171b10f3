"""Webhook endpoints (managers only): register, change, rotate, ping, and the delivery log."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.application import commands
from shop.application.messagebus import MessageBus
from shop.application.ports.paging import Page
from shop.application.webhooks import WebhookChanges
from shop.container import Container
from shop.domain.webhooks import Delivery, WebhookEndpoint
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.http import LOCATION_HEADER, created
from shop.entrypoints.api.schemas.webhooks import (
    DeliverySchema,
    WebhookCreateSchema,
    WebhookSchema,
    WebhookSecretSchema,
    WebhookUpdateSchema,
)
from shop.entrypoints.api.security import current_actor

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/webhooks",
    description="Signed HTTP deliveries of the shop's events to endpoints of yours (Standard Webhooks); "
    "managers only. See docs/webhooks.md for verifying them.",
)


def _page(pagination_parameters: PaginationParameters) -> Page:
    return Page(pagination_parameters.page, pagination_parameters.page_size)


@blp.route("/")
class Webhooks(MethodView):
    @blp.authenticated
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookSecretSchema, headers={"Location": LOCATION_HEADER})
    @blp.errors(403, 503)
    @inject
    def post(
        self,
        body: dict[str, Any],
        bus: MessageBus = Provide[Container.bus],
    ) -> tuple[WebhookEndpoint, int, dict[str, str]]:
        """Register an endpoint; the answer carries its secret in full, the only time it is shown.

        Later answers mask the secret. `events`: types such as `order.placed`, or a family's
        `order.*`.
        """
        endpoint = bus.handle(commands.CreateWebhook(actor=current_actor(), **body))
        return created(endpoint, ".WebhookDetail", webhook_id=endpoint.id)

    @blp.authenticated
    @blp.response(200, WebhookSchema(many=True))
    @blp.paginate()
    @blp.errors(403)
    @inject
    def get(
        self,
        pagination_parameters: PaginationParameters,
        bus: MessageBus = Provide[Container.bus],
    ) -> list[WebhookEndpoint]:
        """Every endpoint, oldest first."""
        found, pagination_parameters.item_count = bus.handle(
            commands.ListWebhooks(actor=current_actor(), page=_page(pagination_parameters))
        )
        return found


@blp.route("/<id:webhook_id>/")
class WebhookDetail(MethodView):
    @blp.authenticated
    @blp.response(200, WebhookSchema)
    @blp.errors(403, 404)
    @inject
    def get(self, webhook_id: int, bus: MessageBus = Provide[Container.bus]) -> WebhookEndpoint:
        """One endpoint, its secret masked."""
        return bus.handle(commands.GetWebhook(actor=current_actor(), webhook_id=webhook_id))

    @blp.authenticated
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    @blp.errors(403, 404)
    @inject
    def patch(
        self,
        body: dict[str, Any],
        webhook_id: int,
        bus: MessageBus = Provide[Container.bus],
    ) -> WebhookEndpoint:
        """Change any of url, events, description and enabled.

        `enabled: true` resumes delivery, those that waited while it was disabled included.
        """
        events = body.pop("events", None)
        changes = WebhookChanges(events=tuple(events) if events is not None else None, **body)
        return bus.handle(commands.UpdateWebhook(actor=current_actor(), webhook_id=webhook_id, changes=changes))

    @blp.authenticated
    @blp.response(204)
    @blp.errors(403, 404)
    @inject
    def delete(self, webhook_id: int, bus: MessageBus = Provide[Container.bus]) -> None:
        """Forget the endpoint and its delivery log; nothing more is sent to it."""
        bus.handle(commands.DeleteWebhook(actor=current_actor(), webhook_id=webhook_id))


@blp.route("/<id:webhook_id>/rotate-secret/")
class RotateSecret(MethodView):
    @blp.authenticated
    @blp.response(200, WebhookSecretSchema)
    @blp.errors(403, 404, 503)
    @inject
    def post(
        self,
        webhook_id: int,
        bus: MessageBus = Provide[Container.bus],
    ) -> WebhookEndpoint:
        """A new secret, shown in full this once.

        For 24 hours deliveries carry two signatures, with the old secret and the new, so the
        receiver can switch without losing one.
        """
        return bus.handle(commands.RotateWebhookSecret(actor=current_actor(), webhook_id=webhook_id))


@blp.route("/<id:webhook_id>/ping/")
class Ping(MethodView):
    @blp.authenticated
    @blp.response(202, DeliverySchema)
    @blp.errors(403, 404)
    @inject
    def post(self, webhook_id: int, bus: MessageBus = Provide[Container.bus]) -> Delivery:
        """Send one ping event to this endpoint, whatever it subscribes to.

        The event's type is `webhook.ping`; follow it in the delivery log.
        """
        return bus.handle(commands.PingWebhook(actor=current_actor(), webhook_id=webhook_id))


@blp.route("/<id:webhook_id>/deliveries/")
class Deliveries(MethodView):
    @blp.authenticated
    @blp.response(200, DeliverySchema(many=True))
    @blp.paginate()
    @blp.errors(403, 404)
    @inject
    def get(
        self,
        webhook_id: int,
        pagination_parameters: PaginationParameters,
        bus: MessageBus = Provide[Container.bus],
    ) -> list[Delivery]:
        """The endpoint's deliveries, newest first, each with every attempt.

        An attempt shows its status code or error, how long it took, and the first 2 KiB of the
        answer.
        """
        found, pagination_parameters.item_count = bus.handle(
            commands.ListDeliveries(actor=current_actor(), webhook_id=webhook_id, page=_page(pagination_parameters))
        )
        return found


@blp.route("/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver/")
class Redeliver(MethodView):
    @blp.authenticated
    @blp.response(202, DeliverySchema)
    @blp.errors(403, 404)
    @inject
    def post(
        self,
        webhook_id: int,
        delivery_id: int,
        bus: MessageBus = Provide[Container.bus],
    ) -> Delivery:
        """Send a delivery again now, with the same webhook-id and a fresh retry schedule."""
        return bus.handle(commands.Redeliver(actor=current_actor(), webhook_id=webhook_id, delivery_id=delivery_id))
