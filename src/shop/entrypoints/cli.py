"""Operator commands: `shop migrate`, `shop manager NAME`, `shop purge`, `shop relay`, `shop webhooks`,
`shop events tail`."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict, replace
from typing import Any

import click

from shop.adapters.sql.migrations import upgrade
from shop.application.errors import ApplicationError
from shop.container import Container
from shop.domain.errors import DomainError
from shop.entrypoints.logs import configure_logging
from shop.entrypoints.settings import Settings, database_url_from_env


def _container(settings: Settings) -> Container:
    """The service's wiring, without its statement deadline: that protects web workers from a
    request stuck on a lock, while an operator's purge of a long backlog may rightly take minutes."""
    container = Container()
    container.config.from_dict(asdict(replace(settings, db_statement_timeout_ms=0)))
    return container


@click.group()
def main() -> None:
    """Operate the shop service. The database is the one DATABASE_URL names (default: the SQLite file in var/)."""


@main.command()
def migrate() -> None:
    """Apply every database migration (Alembic) that is not applied yet. Needs only DATABASE_URL."""
    upgrade(database_url_from_env())
    click.echo("database is up to date")


@main.command()
@click.argument("username")
@click.option(
    "--password-env", default="SHOP_MANAGER_PASSWORD", show_default=True, help="Variable holding the password."
)
def manager(username: str, password_env: str) -> None:
    """Create a manager, or promote an existing user to manager (their tokens are revoked)."""
    container = _container(Settings.from_env(signs=False))
    try:
        user, created = container.make_manager(username=username, password=os.environ.get(password_env) or None)
    except (ApplicationError, DomainError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"{'created' if created else 'promoted'} manager {user.username!r} (id {user.id})")


@main.command()
@click.argument("username")
def demote(username: str) -> None:
    """Make a manager a customer again: their tokens and console sessions end at once."""
    container = _container(Settings.from_env(signs=False))
    try:
        user, changed = container.demote_manager(username=username)
    except (ApplicationError, DomainError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"{'demoted' if changed else 'already a customer:'} {user.username!r} (id {user.id})")


@main.command()
def purge() -> None:
    """Delete expired refresh tokens, revocation records, idempotency keys and counted attempts, the
    outbox's events sent longer ago than OUTBOX_RETENTION_HOURS (those not sent yet, or not yet handed
    to the webhooks, are kept, however old), and webhook deliveries finished over
    WEBHOOK_LOG_RETENTION_DAYS ago."""
    container = _container(Settings.from_env(signs=False))
    tokens = container.purge_tokens()
    keys = container.purge_idempotency_keys()
    attempts = container.purge_attempts()
    sent = container.purge_sent_messages()
    deliveries = container.purge_webhook_log()
    click.echo(
        f"purged {tokens} expired token records, {keys} expired idempotency keys, "
        f"{attempts} expired attempts, {sent} sent events and {deliveries} finished webhook deliveries"
    )


@main.command()
def relay() -> None:
    """Publish the outbox's events to RabbitMQ (BROKER_URL) until stopped with SIGTERM or Ctrl-C.

    Several relays may run: one publishes, the others stand by to take over."""
    settings = Settings.from_env(signs=False)
    if not settings.broker_url:
        click.echo("error: set BROKER_URL, e.g. amqp://guest:guest@127.0.0.1:5672/%2F", err=True)
        sys.exit(2)
    if settings.db_pooler and not settings.relay_database_url:
        click.echo(
            f"error: behind {settings.db_pooler} (DB_POOLER) the relay's lock needs a database session of its own: "
            "set RELAY_DATABASE_URL to PostgreSQL itself (or to a session-pooling PgBouncer)",
            err=True,
        )
        sys.exit(2)
    configure_logging(settings.log_level)
    from shop.entrypoints.relay import run

    run(settings)


@main.command()
def webhooks() -> None:
    """Deliver webhooks until stopped with SIGTERM or Ctrl-C. Several may run: none sends a delivery
    another is sending."""
    settings = Settings.from_env(signs=False, seals=True)
    if not settings.webhook_secret_key:
        click.echo("error: set WEBHOOK_SECRET_KEY (the API's), which opens the endpoints' secrets", err=True)
        sys.exit(2)
    configure_logging(settings.log_level)
    from shop.entrypoints.webhooks import run

    run(settings)


@main.group()
def events() -> None:
    """Watch the events the service publishes (BROKER_URL)."""


@events.command()
@click.option("--pattern", default="#", show_default=True, help="Routing keys to receive: order.*, product.changed...")
@click.option("--count", default=0, show_default=True, help="Stop after this many events (0: never).")
def tail(pattern: str, count: int) -> None:
    """Print each event as it arrives, one JSON object per line, until Ctrl-C."""
    broker_url = Settings.from_env(signs=False).broker_url
    if not broker_url:
        click.echo("error: set BROKER_URL, e.g. amqp://guest:guest@127.0.0.1:5672/%2F", err=True)
        sys.exit(2)
    from shop.adapters.amqp import tail as receive

    received = 0

    def show(routing_key: str, properties: dict[str, Any], body: bytes) -> bool:
        nonlocal received
        received += 1
        line = {"routing_key": routing_key, **properties, "body": json.loads(body)}
        click.echo(json.dumps(line, ensure_ascii=False), nl=True)
        return count == 0 or received < count

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a person stops watching
        receive(broker_url, pattern, show)
