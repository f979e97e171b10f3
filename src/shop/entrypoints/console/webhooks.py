"""Webhooks in the console: the endpoints, a new one (its secret shown once), enable, disable,
rotate, ping, and each endpoint's delivery log with every attempt and a redeliver button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import flash, redirect, request, url_for

from shop.application.messages import WEBHOOK_TYPES
from shop.application.ports.paging import Listing
from shop.application.webhooks import WebhookChanges
from shop.container import Container
from shop.domain.errors import InvalidValue
from shop.domain.webhooks import Delivery, WebhookEndpoint
from shop.entrypoints.console.blueprint import blp, page
from shop.entrypoints.console.forms import text
from shop.entrypoints.console.paging import Shown, requested_page
from shop.entrypoints.console.signin import current_manager, manager_required

FAMILIES = sorted({kind.partition(".")[0] for kind in WEBHOOK_TYPES})
CHOICES = [
    (f"{family}.*", [kind for kind in sorted(WEBHOOK_TYPES) if kind.startswith(f"{family}.")]) for family in FAMILIES
]


@blp.get("/webhooks/")
@manager_required
@inject
def webhooks(list_webhooks: Callable[..., Listing[WebhookEndpoint]] = Provide[Container.list_webhooks.provider]) -> Any:
    chosen = requested_page()
    shown = Shown.of(list_webhooks(actor=current_manager(), page=chosen), chosen)
    return page("webhooks.html", shown=shown)


@blp.route("/webhooks/new", methods=["GET", "POST"])
@manager_required
@inject
def new_webhook(create_webhook: Callable[..., WebhookEndpoint] = Provide[Container.create_webhook.provider]) -> Any:
    form = {"url": text("url"), "description": text("description"), "events": request.form.getlist("events")}
    if request.method == "GET":
        return page("webhook_form.html", form=form, errors={}, choices=CHOICES)
    try:
        created = create_webhook(
            actor=current_manager(), url=form["url"], events=form["events"], description=form["description"]
        )
    except InvalidValue as error:
        return page("webhook_form.html", 400, form=form, errors=error.errors, choices=CHOICES)
    # Rendered, not redirected: the secret is shown this once and kept nowhere, not even in the session.
    return page("webhook_secret.html", 201, endpoint=created, rotated=False)


@blp.get("/webhooks/<id:webhook_id>/")
@manager_required
@inject
def webhook(
    webhook_id: int,
    get_webhook: Callable[..., WebhookEndpoint] = Provide[Container.get_webhook.provider],
    list_deliveries: Callable[..., Listing[Delivery]] = Provide[Container.list_deliveries.provider],
) -> Any:
    endpoint = get_webhook(actor=current_manager(), webhook_id=webhook_id)
    chosen = requested_page()
    found = list_deliveries(actor=current_manager(), webhook_id=webhook_id, page=chosen)
    return page("webhook.html", endpoint=endpoint, shown=Shown.of(found, chosen))


def _switch(webhook_id: int, update: Callable[..., WebhookEndpoint], enabled: bool) -> Any:
    changed = update(actor=current_manager(), webhook_id=webhook_id, changes=WebhookChanges(enabled=enabled))
    flash(f"{changed.url} is {'enabled: deliveries resume' if enabled else 'disabled: nothing is sent to it'}.")
    return redirect(url_for("console.webhook", webhook_id=webhook_id))


@blp.post("/webhooks/<id:webhook_id>/enable")
@manager_required
@inject
def enable_webhook(
    webhook_id: int, update: Callable[..., WebhookEndpoint] = Provide[Container.update_webhook.provider]
) -> Any:
    return _switch(webhook_id, update, True)


@blp.post("/webhooks/<id:webhook_id>/disable")
@manager_required
@inject
def disable_webhook(
    webhook_id: int, update: Callable[..., WebhookEndpoint] = Provide[Container.update_webhook.provider]
) -> Any:
    return _switch(webhook_id, update, False)


@blp.post("/webhooks/<id:webhook_id>/rotate")
@manager_required
@inject
def rotate_webhook(
    webhook_id: int, rotate: Callable[..., WebhookEndpoint] = Provide[Container.rotate_webhook_secret.provider]
) -> Any:
    rotated = rotate(actor=current_manager(), webhook_id=webhook_id)
    return page("webhook_secret.html", endpoint=rotated, rotated=True)


@blp.post("/webhooks/<id:webhook_id>/ping")
@manager_required
@inject
def ping_webhook(webhook_id: int, ping: Callable[..., Delivery] = Provide[Container.ping_webhook.provider]) -> Any:
    ping(actor=current_manager(), webhook_id=webhook_id)
    flash("A webhook.ping event is on its way: it shows below.")
    return redirect(url_for("console.webhook", webhook_id=webhook_id))


@blp.post("/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver")
@manager_required
@inject
def redeliver(
    webhook_id: int, delivery_id: int, again: Callable[..., Delivery] = Provide[Container.redeliver.provider]
) -> Any:
    delivery = again(actor=current_manager(), webhook_id=webhook_id, delivery_id=delivery_id)
    flash(f"Delivery {delivery.id} ({delivery.event_type}) will be sent again now.")
    return redirect(url_for("console.webhook", webhook_id=webhook_id))
