"""Readiness: can this instance serve requests? Each dependency is asked through a Probe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shop.application.ports.health import Probe


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: Mapping[str, str]  # dependency -> "ok" or what is wrong

    @property
    def ready(self) -> bool:
        return all(status == "ok" for status in self.checks.values())

    @property
    def problems(self) -> dict[str, str]:
        return {name: status for name, status in self.checks.items() if status != "ok"}


def check_readiness(*, probes: Sequence[Probe]) -> Readiness:
    """Asks every probe, even after one failed: the operator sees everything that is wrong at once."""
    return Readiness({probe.name: probe.problem() or "ok" for probe in probes})
