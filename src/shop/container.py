"""Wires adapters to the application's ports, and assembles the use cases.

Engines, caches, the hasher and the message bus live as long as the process, made on first use by
whichever request thread gets there first (hence thread-safe singletons: two engines for one worker
would mean two pools); a unit of work is made for each command handled. Entrypoints hand the bus a
command (`bus.handle(PlaceOrder(...))`) with the data of a request and nothing else: shop/bootstrap.py
binds each use case to what it needs, from the providers here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dependency_injector import containers, providers
from sqlalchemy import Engine

from shop.adapters.prometheus import PrometheusMetrics, watch_pool
from shop.adapters.rendering import encode_body
from shop.adapters.sealing import make_sealer
from shop.adapters.security import Argon2Hasher, Argon2Parameters, RandomIds, SystemClock
from shop.adapters.sql.engine import make_engine, make_replica_engine
from shop.adapters.sql.health import DatabaseProbe
from shop.adapters.sql.reads import SqlReads
from shop.adapters.sql.replicas import ReadRouter
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application import webhooks
from shop.application.ports.attempts import Attempts, Limit
from shop.application.ports.broker import Leadership, Publisher
from shop.application.ports.caches import ViewCache
from shop.application.ports.health import Probe
from shop.application.ports.replicas import Guarantee, Positions
from shop.application.ports.webhooks import Resolver, WebhookSender
from shop.application.relay import Relay
from shop.bootstrap import bootstrap, event_handlers
from shop.domain.webhooks import RetrySchedule, UrlPolicy


def make_view_cache(redis_url: str, ttl_seconds: int) -> ViewCache | None:
    """Redis when REDIS_URL is set; otherwise no cache at all (a per-process one would go stale)."""
    if not redis_url:
        return None
    from shop.adapters.redis.versioned import redis_client  # the Redis client weighs 6 MiB
    from shop.adapters.redis.views import RedisViewCache

    return RedisViewCache(redis_client(redis_url), ttl_seconds)


@dataclass(frozen=True, slots=True)
class Routing:
    """The read router, or None: a singleton provider never keeps a None, so it holds this instead
    (without replicas nothing of this module runs again after the first unit of work)."""

    router: ReadRouter | None


def make_read_routing(
    replica_urls: tuple[str, ...],
    primary: Engine,
    redis_url: str,
    max_lag_ms: int,
    *,
    pool_size: int,
    max_overflow: int,
    statement_timeout_ms: int,
    pooler: str,
) -> Routing:
    """With DATABASE_REPLICA_URLS, the one place reads get their connection; without, none (the primary)."""
    if not replica_urls:
        return Routing(None)
    from sqlalchemy.engine import make_url

    from shop.adapters.prometheus import ReplicaMetrics

    replicas = {}
    for url in replica_urls:
        parsed = make_url(url)
        replicas[f"{parsed.host}:{parsed.port or 5432}"] = watch_pool(
            make_replica_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                statement_timeout_ms=statement_timeout_ms,
                pooler=pooler,
            ),
            "replica",
        )
    return Routing(
        ReadRouter(
            primary, replicas, make_positions(redis_url, max_lag_ms), max_lag_ms=max_lag_ms, metrics=ReplicaMetrics()
        )
    )


def make_positions(redis_url: str, max_lag_ms: int) -> Positions:
    """How far each user's writes and reads went: in Redis, so any worker or instance knows; else here."""
    if not redis_url:
        from shop.adapters.memory.positions import MemoryPositions

        return MemoryPositions()
    from shop.adapters.redis.positions import RedisPositions
    from shop.adapters.redis.versioned import redis_client

    return RedisPositions(redis_client(redis_url), ttl_seconds=max(60, 10 * max_lag_ms // 1000))


def cached_guarantee(redis_url: str) -> Guarantee:
    """Reads that fill the shared cache (REDIS_URL) must hold every write so far; without it, the reader's."""
    return Guarantee.EVERY_WRITE if redis_url else Guarantee.READ_YOUR_WRITES


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
    cache = providers.ThreadSafeSingleton(make_view_cache, config.redis_url, config.cache_ttl_seconds)
    metrics = providers.ThreadSafeSingleton(PrometheusMetrics)
    # Webhook secrets are sealed at rest under WEBHOOK_SECRET_KEY (adapters/sealing.py).
    sealer = providers.ThreadSafeSingleton(make_sealer, config.webhook_secret_key)
    # Streaming replicas (DATABASE_REPLICA_URLS): None without them. Every unit of work that writes
    # tells it how far a user's write went; the reads that may lag ask it where to go.
    read_routing = providers.ThreadSafeSingleton(
        make_read_routing,
        config.database_replica_urls,
        reader_engine,
        config.redis_url,
        config.replica_max_lag_ms,
        pool_size=config.db_pool_size,
        max_overflow=config.db_max_overflow,
        statement_timeout_ms=config.db_statement_timeout_ms,
        pooler=config.db_pooler,
    )
    read_router = read_routing.provided.router
    uow = providers.Factory(SqlUnitOfWork, engine=engine, sealer=sealer, router=read_router)
    # Orders wait at most ORDER_LOCK_TIMEOUT_MS for their products' row locks, then answer 503: a
    # product locked for long (a manual UPDATE, a batch) must not hold every worker with it.
    order_uow = providers.Factory(
        SqlUnitOfWork, engine=engine, lock_timeout_ms=config.order_lock_timeout_ms, sealer=sealer, router=read_router
    )
    # Queries on the primary: token standing, whatever decides a write or guards access, the relay's.
    reader = providers.Factory(SqlUnitOfWork, engine=reader_engine, sealer=sealer)
    # Queries that may lag (user lists and pages, the console overview: bootstrap.MAY_LAG): a
    # replica's when one holds the reader's own writes and is at most REPLICA_MAX_LAG_MS behind.
    lagging_reader = providers.Factory(
        SqlUnitOfWork, engine=reader_engine, sealer=sealer, router=read_router, guarantee=Guarantee.READ_YOUR_WRITES
    )
    # The views' reads: one connection each; MAY_LAG ones through the router when there is one
    # (adapters/sql/reads.py), and, when they fill the shared cache, holding every write so far.
    reads = providers.ThreadSafeSingleton(
        SqlReads, reader_engine, router=read_router, lagging=providers.Callable(cached_guarantee, config.redis_url)
    )
    probes = providers.ThreadSafeSingleton(make_probes, reader_engine, config.redis_url)
    attempts = providers.ThreadSafeSingleton(
        make_attempts, config.ratelimit_storage_uri, config.ratelimit_enabled, engine
    )
    login_failure_limit = providers.Singleton(attempt_limit, config.ratelimit_login_failures)
    password_change_limit = providers.Singleton(attempt_limit, config.ratelimit_password_changes)

    # Webhooks: the managers' endpoints (API and console) and the deliverer (shop webhooks).
    resolver = providers.ThreadSafeSingleton(make_resolver)
    url_policy = providers.Factory(UrlPolicy, allow_private=config.webhook_allow_private, production=config.production)

    # Every use case, behind one bus: entrypoints hand it a command (application/commands.py).
    bus = providers.ThreadSafeSingleton(
        bootstrap,
        providers.Dict(
            uow=uow.provider,
            reader=reader.provider,
            lagging_reader=lagging_reader.provider,
            order_uow=order_uow.provider,
            clock=clock.provider,
            ids=ids.provider,
            hasher=hasher.provider,
            attempts=attempts.provider,
            failure_limit=login_failure_limit.provider,
            password_change_limit=password_change_limit.provider,
            refresh_ttl=config.refresh_token_ttl.provider,
            key_ttl=config.idempotency_key_ttl.provider,
            outbox_retention=config.outbox_retention.provider,
            webhook_log_retention=config.webhook_log_retention.provider,
            resolver=resolver.provider,
            policy=url_policy.provider,
            reads=reads.provider,
            cache=cache.provider,
            encode=providers.Object(encode_body).provider,
        ),
        events=providers.Callable(event_handlers, metrics=metrics, cache=cache),
    )
    # A unit of work hands the events of what it committed to the bus.
    for _made in (uow, order_uow, reader, lagging_reader):
        _made.add_kwargs(bus=bus)

    # The relay: publishes the outbox to the broker (shop relay).
    publisher = providers.ThreadSafeSingleton(make_publisher, config.broker_url)
    relay_leadership = providers.ThreadSafeSingleton(
        make_leadership, config.database_url, config.db_pooler, config.relay_database_url
    )
    relay = providers.Factory(Relay, uow=uow.provider, publisher=publisher, leadership=relay_leadership, clock=clock)

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
