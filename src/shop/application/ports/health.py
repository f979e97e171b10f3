from __future__ import annotations

from typing import Protocol


class Probe(Protocol):
    """One dependency the service can't work without (the database, a shared cache)."""

    @property
    def name(self) -> str: ...

    def problem(self) -> str | None:
        """None when the dependency is usable, else what is wrong with it, for the operator."""
