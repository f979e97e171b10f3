"""Operator commands: `shop migrate`, `shop manager NAME`, `shop demote NAME`, `shop purge`, `shop relay`,
`shop webhooks`, `shop events tail`. A setting that is wrong, or a port already taken, is one line on
stderr and exit status 2, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict, replace
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import click

from shop.adapters.sql.migrations import upgrade
from shop.application import commands
from shop.application.errors import ApplicationError, Conflict
from shop.container import Container
from shop.domain.errors import DomainError, InvalidValue
from shop.entrypoints.logs import configure_logging
from shop.entrypoints.settings import Settings, SettingsError, database_url_from_env


class _Commands(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as error:
            _fail(str(error), status=2)


def _fail(message: str, status: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def _container(settings: Settings) -> Container:
    """The service's wiring, without its statement deadline: that protects web workers from a
    request stuck on a lock, while an operator's purge of a long backlog may rightly take minutes."""
    container = Container()
    container.config.from_dict(asdict(replace(settings, db_statement_timeout_ms=0)))
    return container


def _interactive() -> bool:
    return sys.stdin.isatty()


def _without_password(url: str) -> str:
    """A broker's URL fit for a terminal or a log: its password left out."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}" if parts.username else host))


@click.group(cls=_Commands)
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
    """Create a manager, or promote an existing user to manager (their tokens are revoked).

    A new manager's password comes from the variable --password-env names, never from the command
    line (it would show in `ps` and in the shell's history); without it, a terminal is asked for it."""
    container = _container(Settings.from_env(signs=False))
    password = os.environ.get(password_env) or None
    while True:
        try:
            user, created = container.bus().handle(commands.MakeManager(username=username, password=password))
            break
        except InvalidValue as error:
            if password is not None or "password" not in error.errors:
                _fail(str(error))
            if not _interactive():
                _fail(f"{error} Set {password_env}, or run this in a terminal to be asked for it.")
            password = click.prompt(
                f"password for the new manager {username!r}", hide_input=True, confirmation_prompt=True, err=True
            )
        except (ApplicationError, DomainError) as error:
            _fail(str(error))
    click.echo(f"{'created' if created else 'promoted'} manager {user.username!r} (id {user.id})")


@main.command()
@click.argument("username")
@click.option("--force", is_flag=True, help="Demote even the last manager.")
def demote(username: str, force: bool) -> None:
    """Make a manager a customer again: their tokens and console sessions end at once. The last
    manager stays one unless --force."""
    container = _container(Settings.from_env(signs=False))
    try:
        user, changed = container.bus().handle(commands.DemoteManager(username=username, force=force))
    except Conflict as error:
        _fail(f"{error} Make another manager first, or force it: shop demote --force (make demote FORCE=1)")
    except (ApplicationError, DomainError) as error:
        _fail(str(error))
    click.echo(f"{'demoted' if changed else 'already a customer:'} {user.username!r} (id {user.id})")


@main.command()
def purge() -> None:
    """Delete expired refresh tokens, revocation records, idempotency keys and counted attempts, the
    outbox's events sent longer ago than OUTBOX_RETENTION_HOURS (those not sent yet, or not yet handed
    to the webhooks, are kept, however old), and webhook deliveries finished over
    WEBHOOK_LOG_RETENTION_DAYS ago."""
    container = _container(Settings.from_env(signs=False))
    tokens = container.bus().handle(commands.PurgeTokens())
    keys = container.bus().handle(commands.PurgeIdempotencyKeys())
    attempts = container.bus().handle(commands.PurgeAttempts())
    sent = container.bus().handle(commands.PurgeSentMessages())
    deliveries = container.bus().handle(commands.PurgeWebhookLog())
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
        _fail("set BROKER_URL, e.g. amqp://guest:guest@127.0.0.1:5672/%2F", status=2)
    if settings.db_pooler and not settings.relay_database_url:
        _fail(
            f"behind {settings.db_pooler} (DB_POOLER) the relay's lock needs a database session of its own: "
            "set RELAY_DATABASE_URL to PostgreSQL itself (or to a session-pooling PgBouncer)",
            status=2,
        )
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
        _fail("set BROKER_URL, e.g. amqp://guest:guest@127.0.0.1:5672/%2F", status=2)
    from pika.exceptions import AMQPConnectionError

    from shop.adapters.amqp import tail as receive

    received = 0

    def show(routing_key: str, properties: dict[str, Any], body: bytes) -> bool:
        nonlocal received
        received += 1
        line = {"routing_key": routing_key, **properties, "body": json.loads(body)}
        click.echo(json.dumps(line, ensure_ascii=False), nl=True)
        return count == 0 or received < count

    def waiting() -> None:
        where = _without_password(broker_url)
        click.echo(f"waiting for events matching {pattern!r} on {where}... (Ctrl-C to stop)", err=True)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a person stops watching
        try:
            receive(broker_url, pattern, show, on_ready=waiting)
        except AMQPConnectionError as error:
            _fail(f"cannot reach the broker at {_without_password(broker_url)}: {error!r}")
