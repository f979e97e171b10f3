from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    number: int = 1
    size: int = 20

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


class Listing(NamedTuple, Generic[T]):
    """One page of a list, and how many items the whole list holds (the X-Pagination total)."""

    items: list[T]
    total: int
