"""Operator commands: `shop migrate`, `shop manager NAME`, `shop purge`."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, replace

import click

from shop.adapters.sql.migrations import upgrade
from shop.application.errors import ApplicationError
from shop.container import Container
from shop.domain.errors import DomainError
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
    container = _container(Settings.from_env())
    try:
        user, created = container.make_manager(username=username, password=os.environ.get(password_env) or None)
    except (ApplicationError, DomainError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"{'created' if created else 'promoted'} manager {user.username!r} (id {user.id})")


@main.command()
def purge() -> None:
    """Delete expired refresh tokens, revocation records and idempotency keys."""
    settings = Settings.from_env()
    container = _container(settings)
    tokens = container.purge_tokens()
    keys = container.purge_idempotency_keys()
    click.echo(f"purged {tokens} expired token records and {keys} expired idempotency keys")
