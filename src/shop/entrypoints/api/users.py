from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.application import users
from shop.application.ports import AccessCache, Page, PasswordHasher, UnitOfWork
from shop.container import Container
from shop.domain.users import User
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.http import IF_MATCH_PARAMETER, if_match
from shop.entrypoints.api.schemas import UserCreateSchema, UserSchema, UserUpdateSchema
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
        self,
        body: dict[str, Any],
        uow: UnitOfWork = Provide[Container.uow],
        hasher: PasswordHasher = Provide[Container.hasher],
    ) -> User:
        """Sign up. `is_manager: true` needs a manager's access token."""
        actor = optional_actor() if body["is_manager"] else None
        return users.register_user(uow=uow, hasher=hasher, actor=actor, **body)

    @blp.authenticated
    @blp.response(200, UserSchema(many=True))
    @blp.paginate()
    @blp.errors(403)
    @inject
    def get(
        self, pagination_parameters: PaginationParameters, uow: UnitOfWork = Provide[Container.reader]
    ) -> list[User]:
        """Every active account (managers only)."""
        page = Page(pagination_parameters.page, pagination_parameters.page_size)
        found, pagination_parameters.item_count = users.list_users(uow=uow, actor=current_actor(), page=page)
        return found


@blp.route("/<id:user_id>/")
class UserDetail(MethodView):
    @blp.authenticated
    @blp.response(200, UserSchema)
    @blp.errors(403, 404)
    @inject
    def get(self, user_id: int, uow: UnitOfWork = Provide[Container.reader]) -> User:
        """One's own account; managers may read any."""
        return users.get_user(uow=uow, actor=current_actor(), user_id=user_id)

    @blp.authenticated
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 409, 412)
    @inject
    def put(
        self,
        body: dict[str, Any],
        user_id: int,
        uow: UnitOfWork = Provide[Container.uow],
        hasher: PasswordHasher = Provide[Container.hasher],
        access_cache: AccessCache = Provide[Container.access_cache],
    ) -> User:
        """Change one's own account (any subset of fields). A new password revokes every token."""
        return users.update_user(
            uow=uow,
            hasher=hasher,
            actor=current_actor(),
            user_id=user_id,
            changes=users.UserChanges(**body),
            access_cache=access_cache,
            precondition=if_match(UserSchema().dump),
        )

    @blp.authenticated
    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 412)
    @inject
    def delete(
        self,
        user_id: int,
        uow: UnitOfWork = Provide[Container.uow],
        access_cache: AccessCache = Provide[Container.access_cache],
    ) -> None:
        """Close one's own account: logins and every token stop working at once; orders are kept."""
        users.delete_user(
            uow=uow,
            actor=current_actor(),
            user_id=user_id,
            access_cache=access_cache,
            precondition=if_match(UserSchema().dump),
        )
