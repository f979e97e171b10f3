"""Readiness of the database: reachable, and its schema at the migrations' head."""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from shop.adapters.sql.migrations import current_revision, head_revision

log = logging.getLogger(__name__)


class DatabaseProbe:
    name = "database"

    def __init__(self, engine: Engine, head: str | None = None) -> None:
        self._engine = engine
        self._head = head or head_revision()

    def problem(self) -> str | None:
        try:
            with self._engine.connect() as connection:
                current = current_revision(connection)
        except SQLAlchemyError as error:
            log.warning("readiness: database unreachable: %s", type(error).__name__)
            return "unreachable"
        if current != self._head:
            return f"schema at revision {current or 'none'}, expected {self._head}: run `shop migrate`"
        return None
