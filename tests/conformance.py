"""Checked by mypy (make typecheck), never run: every adapter implements the port it stands for, so
a fake can't lose a method the real thing has, nor the other way round."""

from __future__ import annotations

from shop.adapters.cached_reads import CachedReads
from shop.adapters.memory import MemoryUnitOfWork
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.ports.unit_of_work import UnitOfWork


def units_of_work(sql: SqlUnitOfWork, memory: MemoryUnitOfWork, cached: CachedReads) -> list[UnitOfWork]:
    return [sql, memory, cached]
