"""Webhook endpoints (managers only): register, change, rotate, ping, and the delivery log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.application.ports.paging import Listing, Page
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
        create_webhook: Callable[..., WebhookEndpoint] = Provide[Container.create_webhook.provider],
    ) -> tuple[WebhookEndpoint, int, dict[str, str]]:
        """Register an endpoint; the answer carries its secret in full, the only time it is shown.

        Later answers mask the secret. `events`: types such as `order.placed`, or a family's
        `order.*`.
        """
        endpoint = create_webhook(actor=current_actor(), **body)
        return created(endpoint, ".WebhookDetail", webhook_id=endpoint.id)

    @blp.authenticated
    @blp.response(200, WebhookSchema(many=True))
    @blp.paginate()
    @blp.errors(403)
    @inject
    def get(
        self,
        pagination_parameters: PaginationParameters,
        list_webhooks: Callable[..., Listing[WebhookEndpoint]] = Provide[Container.list_webhooks.provider],
    ) -> list[WebhookEndpoint]:
        """Every endpoint, oldest first."""
        found, pagination_parameters.item_count = list_webhooks(
            actor=current_actor(), page=_page(pagination_parameters)
        )
        return found


@blp.route("/<id:webhook_id>/")
class WebhookDetail(MethodView):
    @blp.authenticated
    @blp.response(200, WebhookSchema)
    @blp.errors(403, 404)
    @inject
    def get(
        self, webhook_id: int, get_webhook: Callable[..., WebhookEndpoint] = Provide[Container.get_webhook.provider]
    ) -> WebhookEndpoint:
        """One endpoint, its secret masked."""
        return get_webhook(actor=current_actor(), webhook_id=webhook_id)

    @blp.authenticated
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    @blp.errors(403, 404)
    @inject
    def patch(
        self,
        body: dict[str, Any],
        webhook_id: int,
        update_webhook: Callable[..., WebhookEndpoint] = Provide[Container.update_webhook.provider],
    ) -> WebhookEndpoint:
        """Change any of url, events, description and enabled.

        `enabled: true` resumes delivery, those that waited while it was disabled included.
        """
        events = body.pop("events", None)
        changes = WebhookChanges(events=tuple(events) if events is not None else None, **body)
        return update_webhook(actor=current_actor(), webhook_id=webhook_id, changes=changes)

    @blp.authenticated
    @blp.response(204)
    @blp.errors(403, 404)
    @inject
    def delete(
        self, webhook_id: int, delete_webhook: Callable[..., None] = Provide[Container.delete_webhook.provider]
    ) -> None:
        """Forget the endpoint and its delivery log; nothing more is sent to it."""
        delete_webhook(actor=current_actor(), webhook_id=webhook_id)


@blp.route("/<id:webhook_id>/rotate-secret/")
class RotateSecret(MethodView):
    @blp.authenticated
    @blp.response(200, WebhookSecretSchema)
    @blp.errors(403, 404, 503)
    @inject
    def post(
        self,
        webhook_id: int,
        rotate_webhook_secret: Callable[..., WebhookEndpoint] = Provide[Container.rotate_webhook_secret.provider],
    ) -> WebhookEndpoint:
        """A new secret, shown in full this once.

        For 24 hours deliveries carry two signatures, with the old secret and the new, so the
        receiver can switch without losing one.
        """
        return rotate_webhook_secret(actor=current_actor(), webhook_id=webhook_id)


@blp.route("/<id:webhook_id>/ping/")
class Ping(MethodView):
    @blp.authenticated
    @blp.response(202, DeliverySchema)
    @blp.errors(403, 404)
    @inject
    def post(
        self, webhook_id: int, ping_webhook: Callable[..., Delivery] = Provide[Container.ping_webhook.provider]
    ) -> Delivery:
        """Send one ping event to this endpoint, whatever it subscribes to.

        The event's type is `webhook.ping`; follow it in the delivery log.
        """
        return ping_webhook(actor=current_actor(), webhook_id=webhook_id)


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
        list_deliveries: Callable[..., Listing[Delivery]] = Provide[Container.list_deliveries.provider],
    ) -> list[Delivery]:
        """The endpoint's deliveries, newest first, each with every attempt.

        An attempt shows its status code or error, how long it took, and the first 2 KiB of the
        answer.
        """
        found, pagination_parameters.item_count = list_deliveries(
            actor=current_actor(), webhook_id=webhook_id, page=_page(pagination_parameters)
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
        redeliver: Callable[..., Delivery] = Provide[Container.redeliver.provider],
    ) -> Delivery:
        """Send a delivery again now, with the same webhook-id and a fresh retry schedule."""
        return redeliver(actor=current_actor(), webhook_id=webhook_id, delivery_id=delivery_id)
