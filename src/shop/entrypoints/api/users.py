from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from shop.application import commands
from shop.application.messagebus import MessageBus
from shop.application.ports.paging import Page
from shop.application.ports.users import UserQuery
from shop.application.users import UserChanges
from shop.container import Container
from shop.domain.users import Role, User
from shop.entrypoints.api.blueprint import Blueprint
from shop.entrypoints.api.http import IF_MATCH_PARAMETER, LOCATION_HEADER, created, if_match
from shop.entrypoints.api.schemas.users import UserCreateSchema, UserFilterSchema, UserSchema, UserUpdateSchema
from shop.entrypoints.api.security import BEARER, current_actor, optional_actor

blp = Blueprint("users", __name__, url_prefix="/users", description="Sign up and manage accounts.")


@blp.route("/")
class Users(MethodView):
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema, headers={"Location": LOCATION_HEADER})
    @blp.errors(401, 403, 409, 429)
    @blp.doc(security=[{}, *BEARER])
    @inject
    def post(self, body: dict[str, Any], bus: MessageBus = Provide[Container.bus]) -> tuple[User, int, dict[str, str]]:
        """Sign up; only a manager may create a manager account.

        `is_manager: true` needs a manager's access token.
        """
        actor = optional_actor() if body["is_manager"] else None
        user = bus.handle(commands.RegisterUser(actor=actor, **body))
        assert user.id is not None
        return created(user, ".UserDetail", user_id=user.id)

    @blp.authenticated
    @blp.arguments(UserFilterSchema, location="query", as_kwargs=True)
    @blp.response(200, UserSchema(many=True))
    @blp.paginate()
    @blp.errors(403)
    @inject
    def get(
        self,
        pagination_parameters: PaginationParameters,
        active: bool,
        q: str | None = None,
        role: Role | None = None,
        bus: MessageBus = Provide[Container.bus],
    ) -> list[User]:
        """Every active account, oldest first (managers only).

        `q`: only those whose username contains it; `active=false`: the closed accounts instead;
        `role`: only customers, or only managers.
        """
        page = Page(pagination_parameters.page, pagination_parameters.page_size)
        query = UserQuery(page=page, q=q, active=active, role=role)
        found, pagination_parameters.item_count = bus.handle(commands.ListUsers(actor=current_actor(), query=query))
        return found


@blp.route("/<id:user_id>/")
class UserDetail(MethodView):
    """An account by id. The methods take user_id None for /users/me/: the caller's own account."""

    @blp.authenticated
    @blp.response(200, UserSchema)
    @blp.errors(403, 404)
    @inject
    def get(self, user_id: int | None = None, bus: MessageBus = Provide[Container.bus]) -> User:
        """One's own account (also at /users/me/); managers may read any."""
        return bus.handle(commands.GetUser(actor=current_actor(), user_id=_own_or(user_id)))

    @blp.authenticated
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 409, 412, 429)
    @inject
    def put(
        self,
        body: dict[str, Any],
        user_id: int | None = None,
        bus: MessageBus = Provide[Container.bus],
    ) -> User:
        """Change one's own account (also at /users/me/): any subset of its fields, with PUT or PATCH.

        `null` clears email, age or phone; a field left out keeps its value. A new password revokes
        every token of the account. Send `If-Match` with the ETag of your GET
        so that a change made meanwhile is not silently overwritten: 412 then, and nothing changes.
        """
        return bus.handle(
            commands.UpdateUser(
                actor=current_actor(),
                user_id=_own_or(user_id),
                changes=UserChanges(**body),
                precondition=if_match(UserSchema().dump),
            )
        )

    patch = put  # PUT already takes any subset of the fields

    @blp.authenticated
    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @blp.errors(403, 404, 412)
    @inject
    def delete(self, user_id: int | None = None, bus: MessageBus = Provide[Container.bus]) -> None:
        """Close one's own account (also at /users/me/): logins and every token stop at once; orders stay."""
        bus.handle(
            commands.DeleteUser(
                actor=current_actor(), user_id=_own_or(user_id), precondition=if_match(UserSchema().dump)
            )
        )


@blp.route("/me/")
class Me(UserDetail):
    """/users/{id}/ for the caller's own id: the same answers, ETags and If-Match."""


def _own_or(user_id: int | None) -> int:
    return current_actor().user_id if user_id is None else user_id
