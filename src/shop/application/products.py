from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from shop.application.actors import Actor
from shop.application.errors import Forbidden, NotFound, check_precondition
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.ports.services import Clock
from shop.application.ports.unit_of_work import UnitOfWork
from shop.domain.errors import InvalidValue
from shop.domain.products import Product


@dataclass(frozen=True, slots=True)
class ProductChanges:
    """Fields to change; None leaves a field as it is. Price and currency change together or alone."""

    name: str | None = None
    price: object = None
    currency: str | None = None
    stock: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


def _require_manager(actor: Actor) -> None:
    if not actor.is_manager:
        raise Forbidden("Only managers can change the catalog.")


def create_product(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    name: str,
    price: object,
    stock: int,
    currency: str = "TWD",
) -> Product:
    _require_manager(actor)
    product = Product.create(name=name, price=price, currency=currency, stock=stock, now=clock.now())
    with uow:
        uow.products.add(product)
        uow.commit()
    return product


def list_products(*, uow: UnitOfWork, query: ProductQuery) -> Listing[Product]:
    with uow:
        return uow.products.list(query)


def get_product(*, uow: UnitOfWork, product_id: int) -> Product:
    with uow:
        product = uow.products.get(product_id)
    if product is None:
        raise NotFound("Product", product_id)
    return product


def update_product(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    product_id: int,
    changes: ProductChanges,
    precondition: Callable[[Product], bool] | None = None,
) -> Product:
    """precondition: judged on the product as stored, locked, before the changes (If-Match):
    false means the client edited an outdated copy, and nothing is changed."""
    _require_manager(actor)
    if changes.is_empty():
        raise InvalidValue.single("body", "Give at least one field to change.")
    with uow:
        product = uow.products.get_for_update([product_id]).get(product_id)
        if product is None:
            raise NotFound("Product", product_id)
        check_precondition(precondition, product, "product")
        product.change(
            name=changes.name, price=changes.price, currency=changes.currency, stock=changes.stock, now=clock.now()
        )
        uow.products.save(product)
        uow.commit()
    return product


def adjust_stock(*, uow: UnitOfWork, clock: Clock, actor: Actor, product_id: int, by: int) -> Product:
    """Restock or write off units of a product, relative to its stock when the lock is taken."""
    _require_manager(actor)
    with uow:
        product = uow.products.get_for_update([product_id]).get(product_id)
        if product is None:
            raise NotFound("Product", product_id)
        product.adjust_stock(by, clock.now())
        uow.products.save(product)
        uow.commit()
    return product


def delete_product(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    product_id: int,
    precondition: Callable[[Product], bool] | None = None,
) -> None:
    """Take a product out of the catalog; orders placed before keep their lines."""
    _require_manager(actor)
    with uow:
        product = uow.products.get_for_update([product_id]).get(product_id)
        if product is None:
            raise NotFound("Product", product_id)
        check_precondition(precondition, product, "product")
        product.delete(clock.now())
        uow.products.save(product)
        uow.commit()
