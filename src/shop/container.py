"""Wires adapters to the application's ports. Engine and hasher live as long as the process;
a unit of work is made for each use of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dependency_injector import containers, providers
from sqlalchemy import Engine

from shop.adapters.prometheus import PrometheusMetrics, watch_pool
from shop.adapters.security import Argon2Hasher, Argon2Parameters, RandomIds, SystemClock
from shop.adapters.sql.health import DatabaseProbe
from shop.adapters.sql.unit_of_work import SqlUnitOfWork, make_engine
from shop.application.health import Probe
from shop.application.ports import AccessCache, CatalogCache, NoCache, UnitOfWork

if TYPE_CHECKING:
    from shop.adapters.memory import MemoryUnitOfWork


def make_catalog_cache(redis_url: str, ttl_seconds: int) -> CatalogCache:
    """Redis when REDIS_URL is set; otherwise no cache at all (a per-process one would go stale)."""
    if not redis_url:
        return NoCache()
    from shop.adapters.cache import RedisCatalogCache, redis_client  # the Redis client weighs 6 MiB

    return RedisCatalogCache(redis_client(redis_url), ttl_seconds)


def make_access_cache(redis_url: str, ttl_seconds: int) -> AccessCache:
    """Redis when REDIS_URL is set; otherwise every request asks the database."""
    if not redis_url:
        return NoCache()
    from shop.adapters.cache import RedisAccessCache, redis_client

    return RedisAccessCache(redis_client(redis_url), ttl_seconds)


def make_probes(reader_engine: Engine, redis_url: str) -> list[Probe]:
    """What readiness depends on: the database, and Redis when the caches live there."""
    probes: list[Probe] = [DatabaseProbe(reader_engine)]
    if redis_url:
        from shop.adapters.cache import RedisProbe, redis_client

        probes.append(RedisProbe(redis_client(redis_url)))
    return probes


def _pooled_engine(config: providers.Configuration, *, read_only: bool) -> providers.Singleton[Engine]:
    """One engine per process, its pool counted in shop_db_connections_in_use."""
    return providers.Singleton(
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
    uow = providers.Factory(SqlUnitOfWork, engine=engine)
    # For use cases that only read: no transaction round trips, and the database refuses writes.
    reader_engine = _pooled_engine(config, read_only=True)
    reader = providers.Factory(SqlUnitOfWork, engine=reader_engine)
    hasher = providers.Singleton(
        Argon2Hasher,
        providers.Factory(
            Argon2Parameters,
            memory_cost_kib=config.argon2_memory_kib,
            time_cost=config.argon2_time_cost,
            parallelism=config.argon2_parallelism,
        ),
    )
    catalog_cache = providers.Singleton(make_catalog_cache, config.redis_url, config.cache_ttl_seconds)
    access_cache = providers.Singleton(make_access_cache, config.redis_url, config.cache_ttl_seconds)
    metrics = providers.Singleton(PrometheusMetrics)
    probes = providers.Singleton(make_probes, reader_engine, config.redis_url)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(RandomIds)


def _conforms(sql: type[SqlUnitOfWork], memory: type[MemoryUnitOfWork]) -> tuple[type[UnitOfWork], ...]:
    """Checked by mypy: both units of work implement the application's port."""
    return sql, memory
