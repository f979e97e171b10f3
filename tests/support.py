"""Helpers shared by every suite: the use cases assembled over any unit of work, and a bus that records."""

from __future__ import annotations

import base64
import hashlib
import json
import tarfile
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from dependency_injector import providers
from flask import Flask

from shop.adapters.memory.attempts import MemoryAttempts
from shop.application.messagebus import MessageBus
from shop.application.ports.attempts import Attempts
from shop.application.ports.unit_of_work import UnitOfWork
from shop.container import Container

KEY_TTL = timedelta(hours=24)
REFRESH_TTL = timedelta(days=7)
LOGIN_FAILURES = "5 per minute"
PASSWORD_CHANGES = "5 per hour"


def assembled(
    uow: Callable[[], UnitOfWork],
    *,
    clock: Any,
    bus: MessageBus,
    hasher: Any = None,
    ids: Any = None,
    attempts: Attempts | None = None,
) -> Container:
    """The service's own container, its use cases wired to the given unit of work and fakes, as the
    entrypoints get them: call `use.place_order(actor=..., items=...)`. Attempts are counted in memory
    unless `attempts` says where, under the service's default limits."""
    container = Container()
    container.config.from_dict(
        {
            "idempotency_key_ttl": KEY_TTL,
            "refresh_token_ttl": REFRESH_TTL,
            "ratelimit_login_failures": LOGIN_FAILURES,
            "ratelimit_password_changes": PASSWORD_CHANGES,
        }
    )
    container.attempts.override(providers.Object(attempts or MemoryAttempts()))
    container.uow.override(providers.Callable(uow))
    for reader in (container.reader, container.stale_reader, container.cached_stale_reader):
        reader.override(providers.Callable(uow))
    container.order_uow.override(providers.Callable(uow))
    container.clock.override(providers.Object(clock))
    container.bus.override(providers.Object(bus))
    if hasher is not None:
        container.hasher.override(providers.Object(hasher))
    if ids is not None:
        container.ids.override(providers.Object(ids))
    return container


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
