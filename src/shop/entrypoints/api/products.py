from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.application.ports.paging import Listing, Page
from shop.application.ports.products import ProductQuery
from shop.application.products import ProductChanges
from shop.container import Container
from shop.domain.products import Product
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.http import IF_MATCH_PARAMETER, LOCATION_HEADER, created, if_match
from shop.entrypoints.api.schemas.products import (
    ProductCreateSchema,
    ProductFilterSchema,
    ProductSchema,
    ProductUpdateSchema,
)
from shop.entrypoints.api.security import current_actor

blp = Blueprint("products", __name__, url_prefix="/products", description="The catalog.")


@blp.route("/")
class Products(MethodView):
    @blp.authenticated
    @blp.arguments(ProductFilterSchema, location="query", as_kwargs=True)
    @blp.response(200, ProductSchema(many=True))
    @blp.paginate()
    @inject
    def get(
        self,
        pagination_parameters: PaginationParameters,
        sort: str | None = None,
        list_products: Callable[..., Listing[Product]] = Provide[Container.list_products.provider],
        **filters: Any,
    ) -> list[Product]:
        """The catalog, filtered, sorted (default by id) and paginated; metadata in X-Pagination."""
        query = ProductQuery(
            page=Page(pagination_parameters.page, pagination_parameters.page_size),
            sort=tuple(sort.split(",")) if sort else (),
            **filters,
        )
        found, pagination_parameters.item_count = list_products(query=query)
        return found

    @blp.authenticated
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema, headers={"Location": LOCATION_HEADER})
    @blp.errors(403, 409)
    @inject
    def post(
        self, body: dict[str, Any], create_product: Callable[..., Product] = Provide[Container.create_product.provider]
    ) -> tuple[Product, int, dict[str, str]]:
        """Add a product (managers only). Price: string or number, with at most its currency's decimals."""
        product = create_product(actor=current_actor(), **body)
        assert product.id is not None
        return created(product, ".ProductDetail", product_id=product.id)


@blp.route("/<id:product_id>/")
class ProductDetail(MethodView):
    @blp.authenticated
    @blp.response(200, ProductSchema)
    @blp.errors(404)
    @inject
    def get(
        self, product_id: int, get_product: Callable[..., Product] = Provide[Container.get_product.provider]
    ) -> Product:
        """One product of the catalog."""
        return get_product(product_id=product_id)

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
        update_product: Callable[..., Product] = Provide[Container.update_product.provider],
    ) -> Product:
        """Change a product (managers only): any subset of its fields, with PUT or PATCH.

        Send `If-Match` with the ETag of your GET so that a change made meanwhile by someone else is
        not silently overwritten: 412 then, and nothing changes.
        """
        return update_product(
            actor=current_actor(),
            product_id=product_id,
            changes=ProductChanges(**body),
            precondition=if_match(ProductSchema().dump),
        )

    patch = put  # PUT already takes any subset of the fields

    @blp.authenticated
    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 412)
    @inject
    def delete(
        self, product_id: int, delete_product: Callable[..., None] = Provide[Container.delete_product.provider]
    ) -> None:
        """Take a product out of the catalog (managers only); past orders keep showing it."""
        delete_product(actor=current_actor(), product_id=product_id, precondition=if_match(ProductSchema().dump))
