"""Checked by mypy (make typecheck), never run: every adapter, real or fake, implements the port it
stands for, so a fake can't lose a method the real thing has, nor the other way round."""

from __future__ import annotations

from shop.adapters.amqp import AmqpPublisher
from shop.adapters.memory import MemoryMetrics, MemoryUnitOfWork
from shop.adapters.memory.attempts import MemoryAttempts, Unlimited
from shop.adapters.prometheus import PrometheusMetrics, WebhookMetrics
from shop.adapters.redis.attempts import RedisAttempts
from shop.adapters.redis.probe import RedisProbe
from shop.adapters.redis.views import RedisViewCache
from shop.adapters.sealing import AesGcmSealer, NoSealer
from shop.adapters.security import Argon2Hasher, RandomIds, SystemClock
from shop.adapters.sql.attempts import SqlAttempts
from shop.adapters.sql.health import DatabaseProbe
from shop.adapters.sql.leadership import AdvisoryLock, FileLock
from shop.adapters.sql.reads import SqlReads
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.adapters.webhook_http import SafeSender, SystemResolver
from shop.application.ports.attempts import Attempts
from shop.application.ports.broker import Leadership, Publisher
from shop.application.ports.caches import ViewCache
from shop.application.ports.health import Probe
from shop.application.ports.reads import Reads
from shop.application.ports.services import Clock, IdGenerator, Metrics, PasswordHasher
from shop.application.ports.unit_of_work import UnitOfWork
from shop.application.ports.webhooks import Resolver, Sealer, WebhookSender
from shop.application.webhooks import DeliveryMetrics, NoMetrics
from tests.fakes import (
    CounterIds,
    FakeBroker,
    FakeClock,
    FakeHasher,
    FakeLeadership,
    FakeProbe,
    FixedResolver,
    ReadsThrough,
    RememberingCache,
    ScriptedSender,
)


def units_of_work(sql: SqlUnitOfWork, memory: MemoryUnitOfWork) -> list[UnitOfWork]:
    return [sql, memory]


def view_caches(redis: RedisViewCache, fake: RememberingCache) -> list[ViewCache]:
    return [redis, fake]


def reads(sql: SqlReads, fake: ReadsThrough) -> list[Reads]:
    return [sql, fake]


def metrics(prometheus: PrometheusMetrics, memory: MemoryMetrics) -> list[Metrics]:
    return [prometheus, memory]


def hashers(argon2: Argon2Hasher, fake: FakeHasher) -> list[PasswordHasher]:
    return [argon2, fake]


def clocks(system: SystemClock, fake: FakeClock) -> list[Clock]:
    return [system, fake]


def ids(random: RandomIds, fake: CounterIds) -> list[IdGenerator]:
    return [random, fake]


def publishers(amqp: AmqpPublisher, fake: FakeBroker) -> list[Publisher]:
    return [amqp, fake]


def leaderships(advisory: AdvisoryLock, file: FileLock, fake: FakeLeadership) -> list[Leadership]:
    return [advisory, file, fake]


def probes(database: DatabaseProbe, redis: RedisProbe, fake: FakeProbe) -> list[Probe]:
    return [database, redis, fake]


def attempts(memory: MemoryAttempts, unlimited: Unlimited, sql: SqlAttempts, redis: RedisAttempts) -> list[Attempts]:
    return [memory, unlimited, sql, redis]


def sealers(aes: AesGcmSealer, none: NoSealer) -> list[Sealer]:
    return [aes, none]


def resolvers(system: SystemResolver, fake: FixedResolver) -> list[Resolver]:
    return [system, fake]


def senders(safe: SafeSender, fake: ScriptedSender) -> list[WebhookSender]:
    return [safe, fake]


def delivery_metrics(prometheus: WebhookMetrics, none: NoMetrics) -> list[DeliveryMetrics]:
    return [prometheus, none]
