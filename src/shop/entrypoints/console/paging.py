"""Pages of a list, as the console shows them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlencode

from flask import request

from shop.application.ports.paging import Listing, Page

T = TypeVar("T")

PAGE_SIZE = 20


def requested_page() -> Page:
    """?page=N, any nonsense read as the first page (a link, not a form a person fills in)."""
    number = request.args.get("page", "1")
    return Page(int(number) if re.fullmatch(r"[1-9][0-9]{0,4}", number) else 1, PAGE_SIZE)


@dataclass(frozen=True)
class Shown(Generic[T]):
    items: list[T]
    total: int
    page: Page

    @classmethod
    def of(cls, listing: Listing[T], page: Page) -> Shown[T]:
        return cls(listing.items, listing.total, page)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page.size))

    def link(self, number: int) -> str:
        """This page's URL with another page number, the filters kept."""
        args = {k: v for k, v in request.args.items() if k != "page" and v}
        return f"{request.path}?{urlencode({**args, 'page': number})}"
