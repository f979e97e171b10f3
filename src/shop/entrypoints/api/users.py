from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.application.ports.paging import Listing, Page
from shop.application.ports.users import UserQuery
from shop.application.users import UserChanges
from shop.container import Container
from shop.domain.users import User
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.http import IF_MATCH_PARAMETER, if_match
from shop.entrypoints.api.schemas.users import UserCreateSchema, UserFilterSchema, UserSchema, UserUpdateSchema
from shop.entrypoints.api.security import BEARER, current_actor, optional_actor

blp = Blueprint("users", __name__, url_prefix="/users", description="Sign up and manage accounts.")


@blp.route("/")
class Users(MethodView):
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @blp.errors(401, 403, 409, 429)
    @blp.doc(security=[{}, *BEARER])
    @inject
    def post(
        self, body: dict[str, Any], register_user: Callable[..., User] = Provide[Container.register_user.provider]
    ) -> User:
        """Sign up. `is_manager: true` needs a manager's access token."""
        actor = optional_actor() if body["is_manager"] else None
        return register_user(actor=actor, **body)

    @blp.authenticated
    @blp.arguments(UserFilterSchema, location="query", as_kwargs=True)
    @blp.response(200, UserSchema(many=True))
    @blp.paginate()
    @blp.errors(403)
    @inject
    def get(
        self,
        pagination_parameters: PaginationParameters,
        q: str | None = None,
        list_users: Callable[..., Listing[User]] = Provide[Container.list_users.provider],
    ) -> list[User]:
        """Every active account, oldest first, or those whose username contains `q` (managers only)."""
        query = UserQuery(page=Page(pagination_parameters.page, pagination_parameters.page_size), q=q)
        found, pagination_parameters.item_count = list_users(actor=current_actor(), query=query)
        return found


@blp.route("/<id:user_id>/")
class UserDetail(MethodView):
    @blp.authenticated
    @blp.response(200, UserSchema)
    @blp.errors(403, 404)
    @inject
    def get(self, user_id: int, get_user: Callable[..., User] = Provide[Container.get_user.provider]) -> User:
        """One's own account; managers may read any."""
        return get_user(actor=current_actor(), user_id=user_id)

    @blp.authenticated
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 409, 412, 429)
    @inject
    def put(
        self,
        body: dict[str, Any],
        user_id: int,
        update_user: Callable[..., User] = Provide[Container.update_user.provider],
    ) -> User:
        """Change one's own account (any subset of fields). A new password revokes every token."""
        return update_user(
            actor=current_actor(),
            user_id=user_id,
            changes=UserChanges(**body),
            precondition=if_match(UserSchema().dump),
        )

    @blp.authenticated
    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 412)
    @inject
    def delete(self, user_id: int, delete_user: Callable[..., None] = Provide[Container.delete_user.provider]) -> None:
        """Close one's own account: logins and every token stop working at once; orders are kept."""
        delete_user(actor=current_actor(), user_id=user_id, precondition=if_match(UserSchema().dump))
