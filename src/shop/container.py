"""Wires adapters to the application's ports, and assembles the use cases.

Engines, caches, the hasher and the message bus live as long as the process, made on first use by
whichever request thread gets there first (hence thread-safe singletons: two engines for one worker
would mean two pools); a unit of work is made for each use case run. Entrypoints call the assembled
use cases (`place_order`, `login`...) with the data of a request and nothing else: what a use case
needs, and what follows it, is decided here.
"""

from __future__ import annotations

from dependency_injector import containers, providers
from sqlalchemy import Engine

from shop.adapters.prometheus import PrometheusMetrics, watch_pool
from shop.adapters.security import Argon2Hasher, Argon2Parameters, RandomIds, SystemClock
from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.health import DatabaseProbe
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application import auth, orders, overview, products, users
from shop.application.handlers import handlers
from shop.application.messagebus import MessageBus
from shop.application.ports.broker import Leadership, Publisher
from shop.application.ports.caches import AccessCache, CatalogCache
from shop.application.ports.health import Probe
from shop.application.ports.unit_of_work import UnitOfWork
from shop.application.relay import Relay, outbox_backlog, purge_sent_messages


def make_catalog_cache(redis_url: str, ttl_seconds: int) -> CatalogCache | None:
    """Redis when REDIS_URL is set; otherwise no cache at all (a per-process one would go stale)."""
    if not redis_url:
        return None
    from shop.adapters.redis.catalog import RedisCatalogCache  # the Redis client weighs 6 MiB
    from shop.adapters.redis.versioned import redis_client

    return RedisCatalogCache(redis_client(redis_url), ttl_seconds)


def make_access_cache(redis_url: str, ttl_seconds: int) -> AccessCache | None:
    """Redis when REDIS_URL is set; otherwise every request asks the database."""
    if not redis_url:
        return None
    from shop.adapters.redis.access import RedisAccessCache
    from shop.adapters.redis.versioned import redis_client

    return RedisAccessCache(redis_client(redis_url), ttl_seconds)


def cached_reads(uow: UnitOfWork, catalog: CatalogCache | None, access: AccessCache | None) -> UnitOfWork:
    """The unit of work of the use cases that only read: in front of it the shared caches, if any."""
    if catalog is None or access is None:
        return uow
    from shop.adapters.cached_reads import CachedReads

    return CachedReads(uow, catalog, access)


def make_publisher(broker_url: str) -> Publisher:
    from shop.adapters.amqp import AmqpPublisher  # pika only where a process publishes

    return AmqpPublisher(broker_url)


def make_leadership(database_url: str) -> Leadership:
    from shop.adapters.sql.leadership import relay_leadership

    return relay_leadership(database_url)


def make_probes(reader_engine: Engine, redis_url: str) -> list[Probe]:
    """What readiness depends on: the database, and Redis when the caches live there."""
    probes: list[Probe] = [DatabaseProbe(reader_engine)]
    if redis_url:
        from shop.adapters.redis.probe import RedisProbe
        from shop.adapters.redis.versioned import redis_client

        probes.append(RedisProbe(redis_client(redis_url)))
    return probes


def _pooled_engine(config: providers.Configuration, *, read_only: bool) -> providers.ThreadSafeSingleton[Engine]:
    """One engine per process, its pool counted in shop_db_connections_in_use."""
    return providers.ThreadSafeSingleton(
        watch_pool,
        providers.Factory(
            make_engine,
            config.database_url,
            pool_size=config.db_pool_size,
            max_overflow=config.db_max_overflow,
            read_only=read_only,
            statement_timeout_ms=config.db_statement_timeout_ms,
        ),
        "reader" if read_only else "writer",
    )


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    engine = _pooled_engine(config, read_only=False)
    # For use cases that only read: no transaction round trips, and the database refuses writes.
    reader_engine = _pooled_engine(config, read_only=True)
    hasher = providers.ThreadSafeSingleton(
        Argon2Hasher,
        providers.Factory(
            Argon2Parameters,
            memory_cost_kib=config.argon2_memory_kib,
            time_cost=config.argon2_time_cost,
            parallelism=config.argon2_parallelism,
        ),
    )
    clock = providers.ThreadSafeSingleton(SystemClock)
    ids = providers.ThreadSafeSingleton(RandomIds)
    catalog_cache = providers.ThreadSafeSingleton(make_catalog_cache, config.redis_url, config.cache_ttl_seconds)
    access_cache = providers.ThreadSafeSingleton(make_access_cache, config.redis_url, config.cache_ttl_seconds)
    metrics = providers.ThreadSafeSingleton(PrometheusMetrics)
    bus = providers.ThreadSafeSingleton(
        MessageBus, providers.Callable(handlers, metrics=metrics, catalog=catalog_cache, access=access_cache)
    )
    uow = providers.Factory(SqlUnitOfWork, engine=engine, bus=bus)
    # Orders wait at most ORDER_LOCK_TIMEOUT_MS for their products' row locks, then answer 503: a
    # product locked for long (a manual UPDATE, a batch) must not hold every worker with it.
    order_uow = providers.Factory(SqlUnitOfWork, engine=engine, bus=bus, lock_timeout_ms=config.order_lock_timeout_ms)
    reader = providers.Factory(
        cached_reads, providers.Factory(SqlUnitOfWork, engine=reader_engine, bus=bus), catalog_cache, access_cache
    )
    probes = providers.ThreadSafeSingleton(make_probes, reader_engine, config.redis_url)

    # The use cases, assembled: call them with a request's data only.
    register_user = providers.Callable(users.register_user, uow=uow, hasher=hasher, clock=clock)
    list_users = providers.Callable(users.list_users, uow=reader)
    get_user = providers.Callable(users.get_user, uow=reader)
    usernames = providers.Callable(users.usernames, uow=reader)
    update_user = providers.Callable(users.update_user, uow=uow, hasher=hasher, clock=clock)
    delete_user = providers.Callable(users.delete_user, uow=uow, clock=clock)
    make_manager = providers.Callable(users.make_manager, uow=uow, hasher=hasher, clock=clock)
    demote_manager = providers.Callable(users.demote_manager, uow=uow, clock=clock)

    login = providers.Callable(
        auth.login, uow=uow, hasher=hasher, clock=clock, ids=ids, bus=bus, refresh_ttl=config.refresh_token_ttl
    )
    refresh = providers.Callable(auth.refresh, uow=uow, clock=clock, ids=ids, refresh_ttl=config.refresh_token_ttl)
    revoke = providers.Callable(auth.revoke, uow=uow, clock=clock)
    verify = providers.Callable(auth.verify, uow=reader, clock=clock)
    check_access = providers.Callable(auth.check_access, uow=reader)
    purge_tokens = providers.Callable(auth.purge_expired_tokens, uow=uow, clock=clock)

    create_product = providers.Callable(products.create_product, uow=uow, clock=clock)
    list_products = providers.Callable(products.list_products, uow=reader)
    get_product = providers.Callable(products.get_product, uow=reader)
    update_product = providers.Callable(products.update_product, uow=uow, clock=clock)
    delete_product = providers.Callable(products.delete_product, uow=uow, clock=clock)
    adjust_stock = providers.Callable(products.adjust_stock, uow=uow, clock=clock)

    place_order = providers.Callable(
        orders.place_order, uow=order_uow, clock=clock, bus=bus, key_ttl=config.idempotency_key_ttl
    )
    list_orders = providers.Callable(orders.list_orders, uow=reader)
    get_order = providers.Callable(orders.get_order, uow=reader)
    cancel_order = providers.Callable(orders.cancel_order, uow=order_uow, clock=clock)
    fulfil_order = providers.Callable(orders.fulfil_order, uow=order_uow, clock=clock)
    purge_idempotency_keys = providers.Callable(
        orders.purge_idempotency_keys, uow=uow, clock=clock, key_ttl=config.idempotency_key_ttl
    )

    overview = providers.Callable(overview.overview, uow=reader, clock=clock)

    # The relay: publishes the outbox to the broker (shop relay).
    outbox_backlog = providers.Callable(outbox_backlog, uow=reader)
    purge_sent_messages = providers.Callable(
        purge_sent_messages, uow=uow, clock=clock, retention=config.outbox_retention
    )
    publisher = providers.ThreadSafeSingleton(make_publisher, config.broker_url)
    relay_leadership = providers.ThreadSafeSingleton(make_leadership, config.database_url)
    relay = providers.Factory(Relay, uow=uow.provider, publisher=publisher, leadership=relay_leadership, clock=clock)
