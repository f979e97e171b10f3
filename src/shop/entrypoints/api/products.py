from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Response
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.application.commands import CreateProduct, DeleteProduct, UpdateProduct, ViewProduct, ViewProducts
from shop.application.messagebus import MessageBus
from shop.application.ports.paging import Page
from shop.application.ports.products import ProductQuery
from shop.application.products import ProductChanges
from shop.container import Container
from shop.domain.products import Product
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.http import IF_MATCH_PARAMETER, LOCATION_HEADER, created, if_match, viewed
from shop.entrypoints.api.schemas.products import (
    ProductCreateSchema,
    ProductFilterSchema,
    ProductSchema,
    ProductUpdateSchema,
)
from shop.entrypoints.api.security import current_actor, current_token

blp = Blueprint("products", __name__, url_prefix="/products", description="The catalog.")


@blp.route("/")
class Products(MethodView):
    @blp.authenticated_read
    @blp.arguments(ProductFilterSchema, location="query", as_kwargs=True)
    @blp.response(200, ProductSchema(many=True))
    @blp.paginate()
    @inject
    def get(
        self,
        pagination_parameters: PaginationParameters,
        sort: str | None = None,
        bus: MessageBus = Provide[Container.bus],
        **filters: Any,
    ) -> Response:
        """The catalog, filtered, sorted (default by id) and paginated; metadata in X-Pagination."""
        query = ProductQuery(
            page=Page(pagination_parameters.page, pagination_parameters.page_size),
            sort=tuple(sort.split(",")) if sort else (),
            **filters,
        )
        page = bus.handle(ViewProducts(current_token(), query))
        pagination_parameters.item_count = page.total
        return viewed(page)

    @blp.authenticated
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema, headers={"Location": LOCATION_HEADER})
    @blp.errors(403, 409)
    @inject
    def post(
        self, body: dict[str, Any], bus: MessageBus = Provide[Container.bus]
    ) -> tuple[Product, int, dict[str, str]]:
        """Add a product (managers only). Price: string or number, with at most its currency's decimals."""
        product = bus.handle(CreateProduct(actor=current_actor(), **body))
        assert product.id is not None
        return created(product, ".ProductDetail", product_id=product.id)


@blp.route("/<id:product_id>/")
class ProductDetail(MethodView):
    @blp.authenticated_read
    @blp.response(200, ProductSchema)
    @blp.errors(404)
    @inject
    def get(self, product_id: int, bus: MessageBus = Provide[Container.bus]) -> Response:
        """One product of the catalog."""
        return viewed(bus.handle(ViewProduct(current_token(), product_id)))

    @blp.authenticated
    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ProductSchema)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 409, 412)
    @inject
    def put(
        self,
        body: dict[str, Any],
        product_id: int,
        bus: MessageBus = Provide[Container.bus],
    ) -> Product:
        """Change a product (managers only): any subset of its fields, with PUT or PATCH.

        Send `If-Match` with the ETag of your GET so that a change made meanwhile by someone else is
        not silently overwritten: 412 then, and nothing changes.
        """
        return bus.handle(
            UpdateProduct(
                actor=current_actor(),
                product_id=product_id,
                changes=ProductChanges(**body),
                precondition=if_match(ProductSchema().dump),
            )
        )

    patch = put  # PUT already takes any subset of the fields

    @blp.authenticated
    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 412)
    @inject
    def delete(self, product_id: int, bus: MessageBus = Provide[Container.bus]) -> None:
        """Take a product out of the catalog (managers only); past orders keep showing it."""
        bus.handle(
            DeleteProduct(actor=current_actor(), product_id=product_id, precondition=if_match(ProductSchema().dump))
        )
