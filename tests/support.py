"""Helpers shared by every suite: the use cases assembled over any unit of work, and a bus that records."""

from __future__ import annotations

import base64
import hashlib
import json
import tarfile
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from flask import Flask

from shop.adapters.memory.attempts import MemoryAttempts
from shop.adapters.rendering import encode_body
from shop.adapters.security import RandomIds
from shop.application import commands
from shop.application.handlers import COMMAND_HANDLERS
from shop.application.messagebus import MessageBus
from shop.application.ports.attempts import Attempts
from shop.application.ports.unit_of_work import UnitOfWork
from shop.bootstrap import bootstrap
from shop.container import Container, attempt_limit
from shop.domain.webhooks import UrlPolicy
from tests.fakes import ReadsThrough

KEY_TTL = timedelta(hours=24)
REFRESH_TTL = timedelta(days=7)
LOGIN_FAILURES = "5 per minute"
PASSWORD_CHANGES = "5 per hour"


class UseCases:
    """The use cases as the entrypoints reach them, through the bus: `use.place_order(actor=..., items=...)`
    hands the bus a PlaceOrder with those fields and answers what its handler answered."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus

    def __getattr__(self, name: str) -> Callable[..., Any]:
        kind = _COMMANDS[name]
        return lambda **fields: self.bus.handle(kind(**fields))


# Each use case by its function's name, and the names the container's providers had.
_COMMANDS: dict[str, type[Any]] = {
    **{handler.__name__: kind for kind, handler in COMMAND_HANDLERS.items()},
    "purge_tokens": commands.PurgeTokens,
    "purge_attempts": commands.PurgeAttempts,
    "rotate_webhook_secret": commands.RotateWebhookSecret,
}


def assembled(
    uow: Callable[[], UnitOfWork],
    *,
    clock: Any,
    bus: MessageBus,
    hasher: Any = None,
    ids: Any = None,
    attempts: Attempts | None = None,
    **dependencies: Any,
) -> UseCases:
    """The service's own bus, its handlers bound to the given unit of work and fakes, as the entrypoints
    reach them: call `use.place_order(actor=..., items=...)`. Events go to `bus` (a RecordingBus).
    Attempts are counted in memory unless `attempts` says where, under the service's default limits."""
    attempts = attempts if attempts is not None else MemoryAttempts()
    reads = ReadsThrough(uow)
    given = {
        "uow": uow,
        "reader": uow,
        "lagging_reader": uow,
        "order_uow": uow,
        "clock": lambda: clock,
        "hasher": lambda: hasher,
        "ids": lambda: ids if ids is not None else RandomIds(),
        "attempts": lambda: attempts,
        "failure_limit": lambda: attempt_limit(LOGIN_FAILURES),
        "password_change_limit": lambda: attempt_limit(PASSWORD_CHANGES),
        "refresh_ttl": lambda: REFRESH_TTL,
        "key_ttl": lambda: KEY_TTL,
        "outbox_retention": lambda: timedelta(days=7),
        "webhook_log_retention": lambda: timedelta(days=30),
        "resolver": lambda: None,
        "policy": lambda: UrlPolicy(allow_private=True, production=False),
        "encode": lambda: encode_body,
        "cache": lambda: None,
        "reads": lambda: reads,
    }
    given.update({name: partial(_given, value) for name, value in dependencies.items()})
    return UseCases(bootstrap(given, bus=bus))


def container_of(app: Flask) -> Container:
    """The container create_app attached to the app, which Flask's type declares no attribute for."""
    container: Container = app.container  # type: ignore[attr-defined]  # set by create_app
    return container


REPO = Path(__file__).resolve().parent.parent
# The official AsyncAPI JSON Schemas, from the npm package the AsyncAPI initiative publishes them in,
# pinned by version and by the registry's integrity hash; downloaded once into var/cache/.
ASYNCAPI_SPECS_VERSION = "6.11.1"
ASYNCAPI_SPECS_SHA512 = "A3WBLqAKGoJ2+6FWFtpjBlCQ1oFCcs4GxF7zsIGvNqp/klGUHjlA3aAcZ9XMMpLGE8zPeYDz2x9FmO6DSuKraQ=="


def asyncapi_json_schema(version: str = "3.0.0") -> dict[str, Any]:
    archive = REPO / "var" / "cache" / f"asyncapi-specs-{ASYNCAPI_SPECS_VERSION}.tgz"
    if not archive.exists():
        url = f"https://registry.npmjs.org/@asyncapi/specs/-/specs-{ASYNCAPI_SPECS_VERSION}.tgz"
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read()
        digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
        assert digest == ASYNCAPI_SPECS_SHA512, f"{url} is not the archive this test pinned"
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(data)
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"package/schemas/{version}.json")
        assert member is not None
        schema: dict[str, Any] = json.load(member)
        return schema


def _given(value: Any) -> Any:
    return value


def use_cases(app: Flask) -> UseCases:
    """The use cases of a running app, through its bus."""
    return UseCases(container_of(app).bus())


@contextmanager
def replaced(bus: MessageBus, kind: type[Any], handler: Callable[..., Any]) -> Iterator[None]:
    """The bus runs `handler` (called with the command's fields) for commands of this kind, meanwhile."""
    before = bus.commands[kind]
    bus.commands[kind] = lambda command: handler(
        **{field.name: getattr(command, field.name) for field in fields(command)}
    )
    try:
        yield
    finally:
        bus.commands[kind] = before
