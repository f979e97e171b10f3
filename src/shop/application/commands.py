"""What the entrypoints ask of the application: one frozen dataclass per use case.

A route (or a console view, or the CLI) builds one from its request and hands it to
`MessageBus.handle`, which runs the handler application/handlers.py names for it. A command carries
the request's data only; what its handler needs besides (a unit of work, the clock, the hasher...)
is bound once, in shop/bootstrap.py. `Command[R]` says what handling it answers, so
`bus.handle(GetProduct(...))` is typed. A `Query` only reads: its handler gets the read-only unit
of work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from shop.application.actors import Actor, TokenClaims
from shop.application.auth import Session
from shop.application.orders import Idempotency, Placement
from shop.application.overview import Overview
from shop.application.ports.orders import OrderQuery
from shop.application.ports.outbox import Backlog
from shop.application.ports.paging import Listing, Page
from shop.application.ports.products import ProductQuery
from shop.application.ports.users import UserQuery
from shop.application.products import ProductChanges
from shop.application.users import UserChanges
from shop.application.views import Viewed
from shop.application.webhooks import WebhookChanges, WebhookHealth
from shop.domain.orders import Order, OrderItem
from shop.domain.products import Product
from shop.domain.users import User
from shop.domain.webhooks import Delivery, WebhookEndpoint

R = TypeVar("R")


class Command(Generic[R]):
    """A request to the application; handling it answers an R."""

    __slots__ = ()


class Query(Command[R]):
    """A command that only reads."""

    __slots__ = ()


# Accounts and sessions


@dataclass(frozen=True, slots=True)
class RegisterUser(Command[User]):
    actor: Actor | None
    username: str
    password: str
    email: str | None = None
    age: int | None = None
    phone: str | None = None
    is_manager: bool = False


@dataclass(frozen=True, slots=True)
class UpdateUser(Command[User]):
    actor: Actor
    user_id: int
    changes: UserChanges
    precondition: Callable[[User], bool] | None = None


@dataclass(frozen=True, slots=True)
class DeleteUser(Command[None]):
    actor: Actor
    user_id: int
    precondition: Callable[[User], bool] | None = None


@dataclass(frozen=True, slots=True)
class MakeManager(Command[tuple[User, bool]]):
    username: str
    password: str | None


@dataclass(frozen=True, slots=True)
class DemoteManager(Command[tuple[User, bool]]):
    username: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class ListUsers(Query[Listing[User]]):
    actor: Actor
    query: UserQuery


@dataclass(frozen=True, slots=True)
class GetUser(Query[User]):
    actor: Actor
    user_id: int


@dataclass(frozen=True, slots=True)
class Usernames(Query[dict[int, str]]):
    actor: Actor
    user_ids: Sequence[int]


@dataclass(frozen=True, slots=True)
class Login(Command[Session]):
    username: str
    password: str
    managers_only: bool = False


@dataclass(frozen=True, slots=True)
class Refresh(Command[Session]):
    claims: TokenClaims


@dataclass(frozen=True, slots=True)
class Revoke(Command[None]):
    refresh: TokenClaims
    access: TokenClaims | None = None
    access_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verify(Query[Actor]):
    claims: TokenClaims
    is_refresh: bool


@dataclass(frozen=True, slots=True)
class PurgeTokens(Command[int]):
    pass


@dataclass(frozen=True, slots=True)
class PurgeAttempts(Command[int]):
    pass


# The catalog


@dataclass(frozen=True, slots=True)
class CreateProduct(Command[Product]):
    actor: Actor
    name: str
    price: object
    stock: object
    currency: str = "TWD"


@dataclass(frozen=True, slots=True)
class UpdateProduct(Command[Product]):
    actor: Actor
    product_id: int
    changes: ProductChanges
    precondition: Callable[[Product], bool] | None = None


@dataclass(frozen=True, slots=True)
class AdjustStock(Command[Product]):
    actor: Actor
    product_id: int
    by: object


@dataclass(frozen=True, slots=True)
class DeleteProduct(Command[None]):
    actor: Actor
    product_id: int
    precondition: Callable[[Product], bool] | None = None


@dataclass(frozen=True, slots=True)
class GetProduct(Query[Product]):
    """The product as stored (the console's forms); the API's reads go through application/views.py."""

    product_id: int


@dataclass(frozen=True, slots=True)
class ListProducts(Query[Listing[Product]]):
    query: ProductQuery


# Orders


@dataclass(frozen=True, slots=True)
class PlaceOrder(Command[Placement]):
    actor: Actor
    items: Sequence[OrderItem]
    idempotency: Idempotency | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder(Command[Order]):
    actor: Actor
    order_id: int


@dataclass(frozen=True, slots=True)
class FulfilOrder(Command[Order]):
    actor: Actor
    order_id: int


@dataclass(frozen=True, slots=True)
class GetOrder(Query[Order]):
    actor: Actor
    order_id: int


@dataclass(frozen=True, slots=True)
class ListOrders(Query[Listing[Order]]):
    actor: Actor
    query: OrderQuery
    customer: str | None = None


@dataclass(frozen=True, slots=True)
class PurgeIdempotencyKeys(Command[int]):
    pass


@dataclass(frozen=True, slots=True)
class ShowOverview(Query[Overview]):
    actor: Actor


# The outbox and webhooks


@dataclass(frozen=True, slots=True)
class OutboxBacklog(Query[Backlog]):
    pass


@dataclass(frozen=True, slots=True)
class PurgeSentMessages(Command[int]):
    pass


@dataclass(frozen=True, slots=True)
class CreateWebhook(Command[WebhookEndpoint]):
    actor: Actor
    url: str
    events: Sequence[str]
    description: str = ""


@dataclass(frozen=True, slots=True)
class UpdateWebhook(Command[WebhookEndpoint]):
    actor: Actor
    webhook_id: int
    changes: WebhookChanges


@dataclass(frozen=True, slots=True)
class DeleteWebhook(Command[None]):
    actor: Actor
    webhook_id: int


@dataclass(frozen=True, slots=True)
class RotateWebhookSecret(Command[WebhookEndpoint]):
    actor: Actor
    webhook_id: int


@dataclass(frozen=True, slots=True)
class PingWebhook(Command[Delivery]):
    actor: Actor
    webhook_id: int


@dataclass(frozen=True, slots=True)
class Redeliver(Command[Delivery]):
    actor: Actor
    webhook_id: int
    delivery_id: int


@dataclass(frozen=True, slots=True)
class ListWebhooks(Query[Listing[WebhookEndpoint]]):
    actor: Actor
    page: Page


@dataclass(frozen=True, slots=True)
class GetWebhook(Query[WebhookEndpoint]):
    actor: Actor
    webhook_id: int


@dataclass(frozen=True, slots=True)
class ListDeliveries(Query[Listing[Delivery]]):
    actor: Actor
    webhook_id: int
    page: Page


@dataclass(frozen=True, slots=True)
class WebhookHealthQuery(Query[WebhookHealth]):
    pass


@dataclass(frozen=True, slots=True)
class PurgeWebhookLog(Command[int]):
    pass


# The reads of the API, as views (application/views.py): the token's standing read with the data.


@dataclass(frozen=True, slots=True)
class TokenStanding(Query[Actor]):
    token: TokenClaims


@dataclass(frozen=True, slots=True)
class CheckAccess(Query[Actor]):
    """The standing of a token, from the database alone."""

    claims: TokenClaims


@dataclass(frozen=True, slots=True)
class ViewProduct(Query[Viewed]):
    token: TokenClaims
    product_id: int


@dataclass(frozen=True, slots=True)
class ViewProducts(Query[Viewed]):
    token: TokenClaims
    query: ProductQuery


@dataclass(frozen=True, slots=True)
class ViewOrder(Query[Viewed]):
    token: TokenClaims
    order_id: int


@dataclass(frozen=True, slots=True)
class ViewOrders(Query[Viewed]):
    token: TokenClaims
    query: OrderQuery
    customer: str | None = None
