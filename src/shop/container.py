"""Wires adapters to the application's ports, and assembles the use cases.

Engines, caches, the hasher and the message bus live as long as the process, made on first use by
whichever request thread gets there first (hence thread-safe singletons: two engines for one worker
would mean two pools); a unit of work is made for each use case run. Entrypoints call the assembled
use cases (`place_order`, `login`...) with the data of a request and nothing else: what a use case
needs, and what follows it, is decided here.
"""

from __future__ import annotations

from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy import Engine

from shop.adapters.prometheus import PrometheusMetrics, watch_pool
from shop.adapters.sealing import make_sealer
from shop.adapters.security import Argon2Hasher, Argon2Parameters, RandomIds, SystemClock
from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.health import DatabaseProbe
from shop.adapters.sql.replicas import ReadRouter
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application import auth, orders, overview, products, users, webhooks
from shop.application.handlers import handlers
from shop.application.messagebus import MessageBus
from shop.application.ports.attempts import Attempts, Limit
from shop.application.ports.broker import Leadership, Publisher
from shop.application.ports.caches import AccessCache, CatalogCache
from shop.application.ports.health import Probe
from shop.application.ports.replicas import Consistency, Positions
from shop.application.ports.unit_of_work import UnitOfWork
from shop.application.ports.webhooks import Resolver, WebhookSender
from shop.application.relay import Relay, outbox_backlog, purge_sent_messages
from shop.domain.webhooks import RetrySchedule, UrlPolicy


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


def make_read_router(
    replica_urls: tuple[str, ...],
    primary: Engine,
    redis_url: str,
    max_lag_ms: int,
    *,
    pool_size: int,
    max_overflow: int,
    statement_timeout_ms: int,
    pooler: str,
) -> ReadRouter | None:
    """With DATABASE_REPLICA_URLS, the one place reads get their connection; without, none (the primary)."""
    if not replica_urls:
        return None
    from sqlalchemy.engine import make_url

    from shop.adapters.prometheus import ReplicaMetrics

    replicas = {}
    for url in replica_urls:
        parsed = make_url(url)
        replicas[f"{parsed.host}:{parsed.port or 5432}"] = watch_pool(
            make_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                read_only=True,
                statement_timeout_ms=statement_timeout_ms,
                pooler=pooler,
            ),
            "replica",
        )
    return ReadRouter(
        primary, replicas, make_positions(redis_url, max_lag_ms), max_lag_ms=max_lag_ms, metrics=ReplicaMetrics()
    )


def make_positions(redis_url: str, max_lag_ms: int) -> Positions:
    """How far each user's writes and reads went: in Redis, so any worker or instance knows; else here."""
    if not redis_url:
        from shop.adapters.memory.positions import MemoryPositions

        return MemoryPositions()
    from shop.adapters.redis.positions import RedisPositions
    from shop.adapters.redis.versioned import redis_client

    return RedisPositions(redis_client(redis_url), ttl_seconds=max(60, 10 * max_lag_ms // 1000))


def cached_consistency(redis_url: str) -> Consistency:
    """Reads that fill the shared cache (REDIS_URL) must hold every write so far; without it, the reader's."""
    return Consistency.EVERY_WRITE if redis_url else Consistency.READ_YOUR_WRITES


def make_attempts(storage_uri: str, enabled: bool, engine: Engine) -> Attempts:
    """Where the limits on failed logins and password changes count (RATELIMIT_STORAGE_URI): the
    database when unset, shared by every worker and instance; Redis; or this process alone."""
    from shop.adapters.memory.attempts import MemoryAttempts, Unlimited

    if not enabled:
        return Unlimited()
    if storage_uri == "memory://":
        return MemoryAttempts()
    if storage_uri:
        from shop.adapters.redis.attempts import RedisAttempts
        from shop.adapters.redis.versioned import redis_client

        return RedisAttempts(redis_client(storage_uri))
    from shop.adapters.sql.attempts import SqlAttempts

    return SqlAttempts(engine)


def attempt_limit(text: str) -> Limit:
    """A limit written as flask-limiter writes one: "5 per minute", "10/hour", "3 per 15 minutes"."""
    from limits import parse

    item = parse(text)
    return Limit(item.amount, timedelta(seconds=item.get_expiry()))


def make_publisher(broker_url: str) -> Publisher:
    from shop.adapters.amqp import AmqpPublisher  # pika only where a process publishes

    return AmqpPublisher(broker_url)


def make_leadership(database_url: str, pooler: str, relay_database_url: str) -> Leadership:
    from shop.adapters.sql.leadership import relay_leadership

    return relay_leadership(database_url, pooler=pooler, direct_url=relay_database_url)


def make_probes(reader_engine: Engine, redis_url: str) -> list[Probe]:
    """What readiness depends on: the database, and Redis when the caches live there."""
    probes: list[Probe] = [DatabaseProbe(reader_engine)]
    if redis_url:
        from shop.adapters.redis.probe import RedisProbe
        from shop.adapters.redis.versioned import redis_client

        probes.append(RedisProbe(redis_client(redis_url)))
    return probes


def make_resolver() -> Resolver:
    from shop.adapters.webhook_http import SystemResolver

    return SystemResolver()


def make_webhook_sender(resolver: Resolver, policy: UrlPolicy) -> WebhookSender:
    from importlib.metadata import version

    from shop.adapters.webhook_http import SafeSender

    return SafeSender(
        resolver,
        user_agent=f"shop-webhooks/{version('shop')}",
        allow_private=policy.allow_private,
        production=policy.production,
    )


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
            pooler=config.db_pooler,
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
    # Webhook secrets are sealed at rest under WEBHOOK_SECRET_KEY (adapters/sealing.py).
    sealer = providers.ThreadSafeSingleton(make_sealer, config.webhook_secret_key)
    # Streaming replicas (DATABASE_REPLICA_URLS): None without them. Every unit of work that writes
    # tells it how far a user's write went; the readers below say which guarantee their reads need.
    read_router = providers.ThreadSafeSingleton(
        make_read_router,
        config.database_replica_urls,
        reader_engine,
        config.redis_url,
        config.replica_max_lag_ms,
        pool_size=config.db_pool_size,
        max_overflow=config.db_max_overflow,
        statement_timeout_ms=config.db_statement_timeout_ms,
        pooler=config.db_pooler,
    )
    uow = providers.Factory(SqlUnitOfWork, engine=engine, bus=bus, sealer=sealer, router=read_router)
    # Orders wait at most ORDER_LOCK_TIMEOUT_MS for their products' row locks, then answer 503: a
    # product locked for long (a manual UPDATE, a batch) must not hold every worker with it.
    order_uow = providers.Factory(
        SqlUnitOfWork,
        engine=engine,
        bus=bus,
        lock_timeout_ms=config.order_lock_timeout_ms,
        sealer=sealer,
        router=read_router,
    )
    # Reads on the primary: token standing, whatever decides a write or guards access, the relay's.
    reader = providers.Factory(
        cached_reads,
        providers.Factory(SqlUnitOfWork, engine=reader_engine, bus=bus, sealer=sealer),
        catalog_cache,
        access_cache,
    )
    # Reads that may be a little stale (a replica's when one qualifies): a user's see their writes.
    stale_reader = providers.Factory(
        cached_reads,
        providers.Factory(
            SqlUnitOfWork,
            engine=reader_engine,
            bus=bus,
            sealer=sealer,
            router=read_router,
            consistency=Consistency.READ_YOUR_WRITES,
        ),
        catalog_cache,
        access_cache,
    )
    # The same for the reads the shared cache keeps for everyone (catalog, order listings): those
    # must hold every write committed so far.
    cached_stale_reader = providers.Factory(
        cached_reads,
        providers.Factory(
            SqlUnitOfWork,
            engine=reader_engine,
            bus=bus,
            sealer=sealer,
            router=read_router,
            consistency=providers.Callable(cached_consistency, config.redis_url),
        ),
        catalog_cache,
        access_cache,
    )
    probes = providers.ThreadSafeSingleton(make_probes, reader_engine, config.redis_url)
    attempts = providers.ThreadSafeSingleton(
        make_attempts, config.ratelimit_storage_uri, config.ratelimit_enabled, engine
    )
    login_failure_limit = providers.Singleton(attempt_limit, config.ratelimit_login_failures)
    password_change_limit = providers.Singleton(attempt_limit, config.ratelimit_password_changes)

    # The use cases, assembled: call them with a request's data only.
    register_user = providers.Callable(users.register_user, uow=uow, hasher=hasher, clock=clock)
    list_users = providers.Callable(users.list_users, uow=stale_reader)
    get_user = providers.Callable(users.get_user, uow=stale_reader)
    usernames = providers.Callable(users.usernames, uow=reader)
    update_user = providers.Callable(
        users.update_user,
        uow=uow,
        hasher=hasher,
        clock=clock,
        attempts=attempts,
        password_change_limit=password_change_limit,
    )
    delete_user = providers.Callable(users.delete_user, uow=uow, clock=clock)
    make_manager = providers.Callable(users.make_manager, uow=uow, hasher=hasher, clock=clock)
    demote_manager = providers.Callable(users.demote_manager, uow=uow, clock=clock)

    login = providers.Callable(
        auth.login,
        uow=uow,
        hasher=hasher,
        clock=clock,
        ids=ids,
        bus=bus,
        attempts=attempts,
        failure_limit=login_failure_limit,
        refresh_ttl=config.refresh_token_ttl,
    )
    refresh = providers.Callable(auth.refresh, uow=uow, clock=clock, ids=ids, refresh_ttl=config.refresh_token_ttl)
    revoke = providers.Callable(auth.revoke, uow=uow, clock=clock)
    verify = providers.Callable(auth.verify, uow=reader, clock=clock)
    check_access = providers.Callable(auth.check_access, uow=reader)
    purge_tokens = providers.Callable(auth.purge_expired_tokens, uow=uow, clock=clock)
    purge_attempts = providers.Callable(auth.purge_expired_attempts, attempts=attempts, clock=clock)

    create_product = providers.Callable(products.create_product, uow=uow, clock=clock)
    list_products = providers.Callable(products.list_products, uow=cached_stale_reader)
    get_product = providers.Callable(products.get_product, uow=cached_stale_reader)
    update_product = providers.Callable(products.update_product, uow=uow, clock=clock)
    delete_product = providers.Callable(products.delete_product, uow=uow, clock=clock)
    adjust_stock = providers.Callable(products.adjust_stock, uow=uow, clock=clock)

    place_order = providers.Callable(
        orders.place_order, uow=order_uow, clock=clock, bus=bus, key_ttl=config.idempotency_key_ttl
    )
    list_orders = providers.Callable(orders.list_orders, uow=cached_stale_reader)
    get_order = providers.Callable(orders.get_order, uow=stale_reader)
    cancel_order = providers.Callable(orders.cancel_order, uow=order_uow, clock=clock)
    fulfil_order = providers.Callable(orders.fulfil_order, uow=order_uow, clock=clock)
    purge_idempotency_keys = providers.Callable(
        orders.purge_idempotency_keys, uow=uow, clock=clock, key_ttl=config.idempotency_key_ttl
    )

    overview = providers.Callable(overview.overview, uow=cached_stale_reader, clock=clock)

    # The relay: publishes the outbox to the broker (shop relay).
    outbox_backlog = providers.Callable(outbox_backlog, uow=reader)
    purge_sent_messages = providers.Callable(
        purge_sent_messages, uow=uow, clock=clock, retention=config.outbox_retention
    )
    publisher = providers.ThreadSafeSingleton(make_publisher, config.broker_url)
    relay_leadership = providers.ThreadSafeSingleton(
        make_leadership, config.database_url, config.db_pooler, config.relay_database_url
    )
    relay = providers.Factory(Relay, uow=uow.provider, publisher=publisher, leadership=relay_leadership, clock=clock)

    # Webhooks: the managers' endpoints (API and console) and the deliverer (shop webhooks).
    resolver = providers.ThreadSafeSingleton(make_resolver)
    url_policy = providers.Factory(UrlPolicy, allow_private=config.webhook_allow_private, production=config.production)
    create_webhook = providers.Callable(
        webhooks.create_webhook, uow=uow, clock=clock, resolver=resolver, policy=url_policy
    )
    list_webhooks = providers.Callable(webhooks.list_webhooks, uow=reader)
    get_webhook = providers.Callable(webhooks.get_webhook, uow=reader)
    update_webhook = providers.Callable(
        webhooks.update_webhook, uow=uow, clock=clock, resolver=resolver, policy=url_policy
    )
    delete_webhook = providers.Callable(webhooks.delete_webhook, uow=uow)
    rotate_webhook_secret = providers.Callable(webhooks.rotate_secret, uow=uow, clock=clock)
    ping_webhook = providers.Callable(webhooks.ping_webhook, uow=uow, clock=clock)
    list_deliveries = providers.Callable(webhooks.list_deliveries, uow=reader)
    redeliver = providers.Callable(webhooks.redeliver, uow=uow, clock=clock)
    webhook_health = providers.Callable(webhooks.webhook_health, uow=reader)
    purge_webhook_log = providers.Callable(
        webhooks.purge_webhook_log, uow=uow, clock=clock, retention=config.webhook_log_retention
    )
    webhook_sender = providers.ThreadSafeSingleton(make_webhook_sender, resolver, url_policy)
    deliverer_settings = providers.Factory(
        webhooks.DelivererSettings,
        schedule=providers.Factory(RetrySchedule, config.webhook_retry_schedule),
        disable_after=config.webhook_disable_after,
        lease=config.webhook_claim,
        concurrency=config.webhook_concurrency,
    )
    deliverer = providers.Factory(
        webhooks.Deliverer, uow=uow.provider, sender=webhook_sender, clock=clock, settings=deliverer_settings
    )
