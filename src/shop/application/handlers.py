"""Which handler serves which command, and which follow each event: the one table of the service.

A command's handler is a use case: a function taking the command's fields as keyword arguments,
beside the dependencies shop/bootstrap.py binds by name (uow, clock, hasher, ...). An event's
handlers take the event and, by name, the adapters they need; one whose adapter is not configured
(no Redis: no cache to forget) is left out by the bootstrap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shop.application import auth, orders, overview, products, relay, users, views, webhooks
from shop.application import commands as c
from shop.application.ports.caches import ViewCache
from shop.application.ports.services import Metrics
from shop.domain.events import (
    Event,
    LoginFailed,
    OrderCancelled,
    OrderFulfilled,
    OrderPlaced,
    OrderRefused,
    ProductChanged,
    ProductCreated,
    ProductDeleted,
    TokensRevoked,
)

COMMAND_HANDLERS: Mapping[type[c.Command[Any]], Callable[..., Any]] = {
    c.RegisterUser: users.register_user,
    c.UpdateUser: users.update_user,
    c.DeleteUser: users.delete_user,
    c.MakeManager: users.make_manager,
    c.DemoteManager: users.demote_manager,
    c.ListUsers: users.list_users,
    c.GetUser: users.get_user,
    c.Usernames: users.usernames,
    c.Login: auth.login,
    c.Refresh: auth.refresh,
    c.Revoke: auth.revoke,
    c.Verify: auth.verify,
    c.PurgeTokens: auth.purge_expired_tokens,
    c.PurgeAttempts: auth.purge_expired_attempts,
    c.CreateProduct: products.create_product,
    c.UpdateProduct: products.update_product,
    c.AdjustStock: products.adjust_stock,
    c.DeleteProduct: products.delete_product,
    c.GetProduct: products.get_product,
    c.ListProducts: products.list_products,
    c.PlaceOrder: orders.place_order,
    c.CancelOrder: orders.cancel_order,
    c.FulfilOrder: orders.fulfil_order,
    c.GetOrder: orders.get_order,
    c.ListOrders: orders.list_orders,
    c.PurgeIdempotencyKeys: orders.purge_idempotency_keys,
    c.ShowOverview: overview.overview,
    c.OutboxBacklog: relay.outbox_backlog,
    c.PurgeSentMessages: relay.purge_sent_messages,
    c.CreateWebhook: webhooks.create_webhook,
    c.UpdateWebhook: webhooks.update_webhook,
    c.DeleteWebhook: webhooks.delete_webhook,
    c.RotateWebhookSecret: webhooks.rotate_secret,
    c.PingWebhook: webhooks.ping_webhook,
    c.Redeliver: webhooks.redeliver,
    c.ListWebhooks: webhooks.list_webhooks,
    c.GetWebhook: webhooks.get_webhook,
    c.ListDeliveries: webhooks.list_deliveries,
    c.WebhookHealthQuery: webhooks.webhook_health,
    c.PurgeWebhookLog: webhooks.purge_webhook_log,
    c.CheckAccess: auth.check_access,
    c.TokenStanding: views.token_standing,
    c.ViewProduct: views.product,
    c.ViewProducts: views.products,
    c.ViewOrder: views.order,
    c.ViewOrders: views.orders,
}


def count_placed(_event: OrderPlaced, *, metrics: Metrics) -> None:
    metrics.order_placed()


def count_cancelled(_event: OrderCancelled, *, metrics: Metrics) -> None:
    metrics.order_cancelled()


def count_fulfilled(_event: OrderFulfilled, *, metrics: Metrics) -> None:
    metrics.order_fulfilled()


def count_refused(_event: OrderRefused, *, metrics: Metrics) -> None:
    metrics.stock_rejected()


def count_failed_login(_event: LoginFailed, *, metrics: Metrics) -> None:
    metrics.login_failed()


def forget_order(event: OrderPlaced | OrderCancelled, *, cache: ViewCache) -> None:
    """Stock moved, and the owner's order listings changed: one call says both."""
    order = event.order
    cache.invalidate([line.product_id for line in order.lines], orders_of=order.user_id)


def forget_fulfilled(event: OrderFulfilled, *, cache: ViewCache) -> None:
    cache.invalidate([], orders_of=event.order.user_id)


def forget_product(event: ProductCreated | ProductChanged | ProductDeleted, *, cache: ViewCache) -> None:
    assert event.product.id is not None
    cache.invalidate([event.product.id])


def forget_access(event: TokensRevoked, *, cache: ViewCache) -> None:
    cache.forget_user(event.user_id)


EVENT_HANDLERS: Mapping[type[Event], Sequence[Callable[..., None]]] = {
    OrderPlaced: [count_placed, forget_order],
    OrderCancelled: [count_cancelled, forget_order],
    OrderFulfilled: [count_fulfilled, forget_fulfilled],
    OrderRefused: [count_refused],
    LoginFailed: [count_failed_login],
    ProductCreated: [forget_product],
    ProductChanged: [forget_product],
    ProductDeleted: [forget_product],
    TokensRevoked: [forget_access],
}
