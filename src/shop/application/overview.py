"""What a manager sees first: how sales go, and which products are running out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shop.application.actors import Actor
from shop.application.errors import Forbidden
from shop.application.ports.orders import Sales
from shop.application.ports.paging import Listing, Page
from shop.application.ports.products import ProductQuery
from shop.application.ports.services import Clock
from shop.application.ports.unit_of_work import UnitOfWork
from shop.domain.products import Product

# A product with this many units or fewer is "low on stock"; the overview lists the lowest first.
LOW_STOCK = 5
LOW_STOCK_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Overview:
    """Days are UTC days; "the last 7 days" are today and the 6 days before it."""

    today: Sales
    last_7_days: Sales
    low_on_stock: Listing[Product]


def overview(*, uow: UnitOfWork, clock: Clock, actor: Actor) -> Overview:
    if not actor.is_manager:
        raise Forbidden("Only managers can see the sales.")
    today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    low = ProductQuery(page=Page(1, LOW_STOCK_SHOWN), max_stock=LOW_STOCK, sort=("stock",))
    with uow:
        return Overview(
            today=uow.orders.sales(today),
            last_7_days=uow.orders.sales(today - timedelta(days=6)),
            low_on_stock=uow.products.list(low),
        )
