"""Readiness of the database: reachable, and its schema not behind this code's migrations.

A schema *ahead* of this code (a revision it has no migration for) is fine: during a rolling
update the migrations Job upgrades the database while replicas of the previous release still
serve, and migrations are written to keep the previous release working (expand, then contract
in a later release). Refusing there would take every old replica out of service mid-rollout.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from shop.adapters.sql.migrations import current_revision, head_revision, known_revisions

log = logging.getLogger(__name__)


class DatabaseProbe:
    name = "database"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._head = head_revision()
        self._known = known_revisions()

    def problem(self) -> str | None:
        try:
            with self._engine.connect() as connection:
                current = current_revision(connection)
        except SQLAlchemyError as error:
            log.warning("readiness: database unreachable: %s", type(error).__name__)
            return "unreachable"
        except Exception:  # Alembic refusing an odd version table (several heads...): a 503, never a 500
            log.exception("readiness: the schema revision could not be read")
            return "schema revision unreadable"
        if current is None or (current in self._known and current != self._head):
            return f"schema at revision {current or 'none'}, expected {self._head}: run `shop migrate`"
        return None
