from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from shop.application.actors import Actor
from shop.application.errors import AlreadyExists, Forbidden, NotFound, check_precondition
from shop.application.ports.paging import Listing
from shop.application.ports.products import ProductQuery
from shop.application.ports.services import Clock
from shop.application.ports.unit_of_work import UnitOfWork
from shop.domain.errors import InvalidValue
from shop.domain.products import Product, check_name


@dataclass(frozen=True, slots=True)
class ProductChanges:
    """Fields to change; None leaves a field as it is. Price and currency change together or alone."""

    name: str | None = None
    price: object = None
    currency: str | None = None
    stock: object = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


def _require_manager(actor: Actor) -> None:
    if not actor.is_manager:
        raise Forbidden("Only managers can change the catalog.")


def _taken(uow: UnitOfWork, name: str | None, product_id: int | None = None) -> AlreadyExists | None:
    """Whether another product of the catalog holds this name (asked before the write, so that a
    request hears of it with its other problems; the unique index still decides a race)."""
    if name is None:
        return None
    try:
        wanted = check_name(name)
    except InvalidValue:
        return None  # the name's own problem is told by the rules
    holder = uow.products.get_by_name(wanted)
    if holder is None or holder.id == product_id:
        return None
    return AlreadyExists("name", f"A product named {wanted!r} already exists.")


def _all_at_once(invalid: InvalidValue, taken: AlreadyExists | None) -> InvalidValue:
    """The rules' problems, and a taken name among them: one answer. A taken name alone stays an
    AlreadyExists (the API's 409)."""
    return InvalidValue({**invalid.errors, taken.field: [str(taken)]}) if taken is not None else invalid


def create_product(
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    name: str,
    price: object,
    stock: object,
    currency: str = "TWD",
) -> Product:
    """Every problem of the request at once: the rules', and a name another product holds."""
    _require_manager(actor)
    with uow:
        taken = _taken(uow, name)
        try:
            product = Product.create(name=name, price=price, currency=currency, stock=stock, now=clock.now())
        except InvalidValue as invalid:
            raise _all_at_once(invalid, taken) from None
        if taken is not None:
            raise taken
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
        taken = _taken(uow, changes.name, product_id)
        try:
            product.change(
                name=changes.name, price=changes.price, currency=changes.currency, stock=changes.stock, now=clock.now()
            )
        except InvalidValue as invalid:
            raise _all_at_once(invalid, taken) from None
        if taken is not None:
            raise taken
        uow.products.save(product)
        uow.commit()
    return product


def adjust_stock(*, uow: UnitOfWork, clock: Clock, actor: Actor, product_id: int, by: object) -> Product:
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
