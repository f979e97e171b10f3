"""The catalog in the console: list with the API's filters, create, edit (lost-update safe), delete,
and a quick stock adjustment."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from dependency_injector.wiring import Provide, inject
from flask import flash, redirect, request, url_for

from shop.application import commands
from shop.application.errors import AlreadyExists, PreconditionFailed
from shop.application.messagebus import MessageBus
from shop.application.overview import LOW_STOCK
from shop.application.ports.products import PRODUCT_SORT_KEYS, ProductQuery
from shop.application.products import ProductChanges
from shop.container import Container
from shop.domain.errors import InvalidValue
from shop.domain.money import ISO_4217
from shop.domain.products import Product
from shop.entrypoints.api.schemas.products import ProductFilterSchema
from shop.entrypoints.console.blueprint import blp, page
from shop.entrypoints.console.forms import errors_of, product_form, text, version_of
from shop.entrypoints.console.paging import Shown, requested_page
from shop.entrypoints.console.signin import current_manager, manager_required

FILTERS = ("q", "min_price", "max_price", "in_stock", "sort")
# Each of the API's sort keys in words: what it orders by, ascending, descending. A key added to the
# API without its words here fails at import, not on a page.
SORT_WORDS = {
    "id": ("Added", "oldest first", "newest first"),
    "name": ("Name", "A to Z", "Z to A"),
    "price": ("Price", "lowest first", "highest first"),
    "stock": ("Stock", "lowest first", "highest first"),
}


def _sort_options() -> list[tuple[str, str]]:
    """(value, label) of every sort the API takes, both ways; the default (by id, "") first."""
    options = []
    for key in sorted(PRODUCT_SORT_KEYS, key=lambda key: (key != "id", key)):
        what, ascending, descending = SORT_WORDS[key]
        options += [("" if key == "id" else key, f"{what}, {ascending}"), (f"-{key}", f"{what}, {descending}")]
    return options


SORTS = _sort_options()
CURRENCIES = sorted(ISO_4217)


@blp.get("/products/")
@manager_required
@inject
def products(bus: MessageBus = Provide[Container.bus]) -> Any:
    sent = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    try:
        filters = ProductFilterSchema().load(sent)  # the API's filters, parsed as the API parses them
    except ma.ValidationError as error:
        messages: dict[str, list[str]] = error.messages_dict
        return page("products.html", 400, shown=None, filters=sent, errors=messages, sorts=SORTS, low_stock=LOW_STOCK)
    sort = filters.pop("sort", None)
    query = ProductQuery(page=requested_page(), sort=tuple(sort.split(",")) if sort else (), **filters)
    found = bus.handle(commands.ListProducts(query=query))
    return page(
        "products.html", shown=Shown.of(found, query.page), filters=sent, errors={}, sorts=SORTS, low_stock=LOW_STOCK
    )


@blp.route("/products/new", methods=["GET", "POST"])
@manager_required
@inject
def new_product(bus: MessageBus = Provide[Container.bus]) -> Any:
    form = product_form()
    if request.method == "GET":
        return page("product_form.html", form=form, errors={}, currencies=CURRENCIES, product=None)
    try:
        created = bus.handle(
            commands.CreateProduct(
                actor=current_manager(),
                name=form["name"],
                price=form["price"],
                currency=form["currency"] or "TWD",
                stock=form["stock"],
            )
        )
    except (InvalidValue, AlreadyExists) as error:
        return page("product_form.html", 400, form=form, errors=errors_of(error), currencies=CURRENCIES, product=None)
    flash(f"{created.name} was added to the catalog.")
    return redirect(url_for("console.product", product_id=created.id))


@blp.route("/products/<id:product_id>/", methods=["GET", "POST"])
@manager_required
@inject
def product(
    product_id: int,
    bus: MessageBus = Provide[Container.bus],
) -> Any:
    if request.method == "GET":
        stored = bus.handle(commands.GetProduct(product_id=product_id))
        return _edit_page(stored, product_form(stored), version_of(stored))
    form, loaded = product_form(), text("version")
    try:
        changes = ProductChanges(name=form["name"], price=form["price"], currency=form["currency"], stock=form["stock"])
        saved = bus.handle(
            commands.UpdateProduct(
                actor=current_manager(),
                product_id=product_id,
                changes=changes,
                precondition=lambda current: version_of(current) == loaded,
            )
        )
    except (InvalidValue, AlreadyExists) as error:
        return _edit_page(
            bus.handle(commands.GetProduct(product_id=product_id)), form, loaded, errors=errors_of(error), status=400
        )
    except PreconditionFailed:
        # Someone changed it since this form was filled: show both, keep both, overwrite nothing.
        # The form now carries the stored version: sending it again means "mine wins", knowingly.
        current = bus.handle(commands.GetProduct(product_id=product_id))
        return _edit_page(current, form, version_of(current), conflict=current, status=409)
    flash(f"{saved.name} was saved.")
    return redirect(url_for("console.product", product_id=product_id))


@blp.post("/products/<id:product_id>/stock")
@manager_required
@inject
def adjust_stock(
    product_id: int,
    bus: MessageBus = Provide[Container.bus],
) -> Any:
    try:
        adjusted = bus.handle(
            commands.AdjustStock(actor=current_manager(), product_id=product_id, by=text("adjustment"))
        )
    except InvalidValue as error:
        stored = bus.handle(commands.GetProduct(product_id=product_id))
        return _edit_page(stored, product_form(stored), version_of(stored), errors=error.errors, status=400)
    flash(f"{adjusted.name}: {adjusted.stock} in stock.")
    return redirect(url_for("console.product", product_id=product_id))


@blp.route("/products/<id:product_id>/delete", methods=["GET", "POST"])
@manager_required
@inject
def delete_product(
    product_id: int,
    bus: MessageBus = Provide[Container.bus],
) -> Any:
    stored = bus.handle(commands.GetProduct(product_id=product_id))
    if request.method == "GET":
        return page("product_delete.html", product=stored, version=version_of(stored), conflict=False)
    loaded = text("version")
    try:
        bus.handle(
            commands.DeleteProduct(
                actor=current_manager(), product_id=product_id, precondition=lambda p: version_of(p) == loaded
            )
        )
    except PreconditionFailed:
        current = bus.handle(commands.GetProduct(product_id=product_id))
        return page("product_delete.html", 409, product=current, version=version_of(current), conflict=True)
    flash(f"{stored.name} was deleted; past orders keep showing it.")
    return redirect(url_for("console.products"))


def _edit_page(
    stored: Product,
    form: dict[str, str],
    version: str,
    *,
    errors: dict[str, list[str]] | None = None,
    conflict: Product | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return page(
        "product_form.html",
        status,
        product=stored,
        form=form,
        version=version,
        errors=errors or {},
        conflict=conflict,
        currencies=CURRENCIES,
    )
