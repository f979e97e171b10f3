from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class DomainError(Exception):
    """A business rule was broken."""


class InvalidValue(DomainError):
    """One or more fields hold values the rules reject; `errors` maps each field to its messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {field: list(messages) for field, messages in errors.items()}
        super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in self.errors.items()))

    @classmethod
    def single(cls, field: str, message: str) -> InvalidValue:
        return cls({field: [message]})


class Problems:
    """The problems of several checks, raised together: a client learns everything wrong with its
    request at once, not one field per attempt."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def check(self, attempt: Callable[[], T], otherwise: T) -> T:
        """attempt's value, or otherwise when it is refused (its problems are kept)."""
        try:
            return attempt()
        except InvalidValue as error:
            for field, messages in error.errors.items():
                self.errors.setdefault(field, []).extend(messages)
            return otherwise

    def raise_any(self) -> None:
        if self.errors:
            raise InvalidValue(self.errors)


@dataclass(frozen=True, slots=True)
class Shortage:
    product_id: int
    name: str
    requested: int
    available: int


class InsufficientStock(DomainError):
    def __init__(self, shortages: Sequence[Shortage]) -> None:
        self.shortages = list(shortages)
        names = ", ".join(f"{s.name} (requested {s.requested}, available {s.available})" for s in shortages)
        super().__init__(f"Not enough stock for: {names}.")


class InvalidTransition(DomainError):
    def __init__(self, current: str, wanted: str) -> None:
        self.current = current
        self.wanted = wanted
        super().__init__(f"An order that is {current} cannot become {wanted}.")
