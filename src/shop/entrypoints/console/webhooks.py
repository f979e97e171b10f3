"""Webhooks in the console: the endpoints, a new one (its secret shown once), enable, disable,
rotate, ping, and each endpoint's delivery log with every attempt and a redeliver button."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import flash, redirect, request, url_for

from shop.application import commands
from shop.application.messagebus import MessageBus
from shop.application.messages import WEBHOOK_TYPES
from shop.application.webhooks import WebhookChanges
from shop.container import Container
from shop.domain.errors import InvalidValue
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
def webhooks(bus: MessageBus = Provide[Container.bus]) -> Any:
    chosen = requested_page()
    shown = Shown.of(bus.handle(commands.ListWebhooks(actor=current_manager(), page=chosen)), chosen)
    return page("webhooks.html", shown=shown)


@blp.route("/webhooks/new", methods=["GET", "POST"])
@manager_required
@inject
def new_webhook(bus: MessageBus = Provide[Container.bus]) -> Any:
    form = {"url": text("url"), "description": text("description"), "events": request.form.getlist("events")}
    if request.method == "GET":
        return page("webhook_form.html", form=form, errors={}, choices=CHOICES)
    try:
        created = bus.handle(
            commands.CreateWebhook(
                actor=current_manager(),
                url=text("url"),
                events=request.form.getlist("events"),
                description=text("description"),
            )
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
    bus: MessageBus = Provide[Container.bus],
) -> Any:
    endpoint = bus.handle(commands.GetWebhook(actor=current_manager(), webhook_id=webhook_id))
    chosen = requested_page()
    found = bus.handle(commands.ListDeliveries(actor=current_manager(), webhook_id=webhook_id, page=chosen))
    return page("webhook.html", endpoint=endpoint, shown=Shown.of(found, chosen))


def _switch(bus: MessageBus, webhook_id: int, enabled: bool) -> Any:
    changed = bus.handle(
        commands.UpdateWebhook(actor=current_manager(), webhook_id=webhook_id, changes=WebhookChanges(enabled=enabled))
    )
    flash(f"{changed.url} is {'enabled: deliveries resume' if enabled else 'disabled: nothing is sent to it'}.")
    return redirect(url_for("console.webhook", webhook_id=webhook_id))


@blp.post("/webhooks/<id:webhook_id>/enable")
@manager_required
@inject
def enable_webhook(webhook_id: int, bus: MessageBus = Provide[Container.bus]) -> Any:
    return _switch(bus, webhook_id, True)


@blp.post("/webhooks/<id:webhook_id>/disable")
@manager_required
@inject
def disable_webhook(webhook_id: int, bus: MessageBus = Provide[Container.bus]) -> Any:
    return _switch(bus, webhook_id, False)


@blp.post("/webhooks/<id:webhook_id>/rotate")
@manager_required
@inject
def rotate_webhook(webhook_id: int, bus: MessageBus = Provide[Container.bus]) -> Any:
    rotated = bus.handle(commands.RotateWebhookSecret(actor=current_manager(), webhook_id=webhook_id))
    return page("webhook_secret.html", endpoint=rotated, rotated=True)


@blp.post("/webhooks/<id:webhook_id>/ping")
@manager_required
@inject
def ping_webhook(webhook_id: int, bus: MessageBus = Provide[Container.bus]) -> Any:
    bus.handle(commands.PingWebhook(actor=current_manager(), webhook_id=webhook_id))
    flash("A webhook.ping event is on its way: it shows below.")
    return redirect(url_for("console.webhook", webhook_id=webhook_id))


@blp.post("/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver")
@manager_required
@inject
def redeliver(webhook_id: int, delivery_id: int, bus: MessageBus = Provide[Container.bus]) -> Any:
    delivery = bus.handle(commands.Redeliver(actor=current_manager(), webhook_id=webhook_id, delivery_id=delivery_id))
    flash(f"Delivery {delivery.id} ({delivery.event_type}) will be sent again now.")
    return redirect(url_for("console.webhook", webhook_id=webhook_id))
