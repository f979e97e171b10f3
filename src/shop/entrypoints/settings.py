"""Settings from the environment. Every variable is listed in the README."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from shop.adapters.sql.engine import POOLERS, STATEMENT_TIMEOUT_MS
from shop.domain.webhooks import DEFAULT_SCHEDULE, RetrySchedule

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32
# Who may be named in the Host header when TRUSTED_HOSTS is not set (development only).
LOCAL_HOSTS = ("localhost", "127.0.0.1")
REDIS_SCHEMES = ("redis://", "rediss://")


class SettingsError(RuntimeError):
    """The environment asks for something unsafe or malformed; the service refuses to start."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _at_least(minimum: int, env: dict[str, str], name: str, default: int | None = None) -> int:
    value = _int(env, name, minimum if default is None else default)
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str
    jwt_secret_key: str = field(repr=False)
    production: bool = False
    access_token_ttl: timedelta = timedelta(minutes=15)
    refresh_token_ttl: timedelta = timedelta(days=7)
    idempotency_key_ttl: timedelta = timedelta(hours=24)
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    # One connection per request thread (WEB_THREADS, 8) in each of the two pools, a little spare.
    db_pool_size: int = 8
    db_max_overflow: int = 2
    db_statement_timeout_ms: int = STATEMENT_TIMEOUT_MS
    db_pooler: str = ""  # "pgbouncer": PgBouncer in transaction pooling between the service and PostgreSQL
    relay_database_url: str = field(default="", repr=False)  # the relay lock's session, past any pooler
    # Streaming replicas for the reads that may be a little stale (docs/scaling.md), and how stale.
    database_replica_urls: tuple[str, ...] = field(default=(), repr=False)
    replica_max_lag_ms: int = 1000
    order_lock_timeout_ms: int = 2000
    max_content_length: int = 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    redis_url: str = ""
    cache_ttl_seconds: int = 60
    ratelimit_enabled: bool = True
    ratelimit_storage_uri: str = ""  # the database
    ratelimit_login_failures: str = "5 per minute"
    ratelimit_password_changes: str = "5 per hour"  # noqa: S105 - a limit, not a password
    ratelimit_per_address: str = "300 per minute"
    metrics_token: str = field(default="", repr=False)
    metrics_public: bool = False
    trusted_hosts: tuple[str, ...] = LOCAL_HOSTS
    proxy_hops: int = 0
    broker_url: str = field(default="", repr=False)
    outbox_retention: timedelta = timedelta(hours=72)
    relay_host: str = "127.0.0.1"
    relay_port: int = 8001
    log_level: str = "INFO"
    secret_is_generated: bool = field(default=False, compare=False)
    # Webhooks: the API's /webhooks/ and the deliverer, `shop webhooks`.
    webhook_secret_key: str = field(default="", repr=False)
    webhook_allow_private: bool = False
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    webhook_disable_after: timedelta = timedelta(hours=72)
    webhook_claim: timedelta = timedelta(seconds=60)
    webhook_concurrency: int = 16
    webhook_log_retention: timedelta = timedelta(days=30)
    webhooks_host: str = "127.0.0.1"
    webhooks_port: int = 8002

    @classmethod
    def from_env(
        cls,
        env: dict[str, str] | None = None,
        var_dir: Path | None = None,
        *,
        signs: bool = True,
        seals: bool | None = None,
    ) -> Settings:
        """signs=False: for processes that never sign or check a token and serve no API (the relay,
        operator commands), which then need no JWT_SECRET_KEY, METRICS_TOKEN or TRUSTED_HOSTS. seals (by
        default, signs): the process reads or writes webhook secrets, so needs WEBHOOK_SECRET_KEY (see
        _webhook_key)."""
        env = dict(os.environ if env is None else env)
        var = var_dir or _var_dir(env)
        production = env.get("SHOP_ENV", "development").lower() == "production"
        database_url = database_url_from_env(env, var)
        secret, generated = _secret(env, var) if signs else ("", False)
        if production and generated:
            raise SettingsError("SHOP_ENV=production needs JWT_SECRET_KEY; the generated development key is refused.")
        if production and signs and len(secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"JWT_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production.")
        metrics_token = env.get("METRICS_TOKEN", "")
        metrics_public = _bool(env, "METRICS_PUBLIC", default=False)
        if production and signs and not metrics_token and not metrics_public:
            raise SettingsError(
                "SHOP_ENV=production needs METRICS_TOKEN (or METRICS_PUBLIC=true where only a trusted network "
                "reaches /metrics)."
            )
        trusted_hosts = _hosts(env)
        if production and signs and not trusted_hosts:
            raise SettingsError("SHOP_ENV=production needs TRUSTED_HOSTS, the host names clients use, comma-separated.")
        storage_uri = _storage_uri(env, production=production and signs)
        return cls(
            database_url=database_url,
            jwt_secret_key=secret,
            production=production,
            access_token_ttl=timedelta(minutes=_int(env, "JWT_ACCESS_TOKEN_MINUTES", 15)),
            refresh_token_ttl=timedelta(days=_int(env, "JWT_REFRESH_TOKEN_DAYS", 7)),
            idempotency_key_ttl=timedelta(hours=_at_least(24, env, "IDEMPOTENCY_KEY_TTL_HOURS")),
            argon2_memory_kib=_int(env, "ARGON2_MEMORY_KIB", 19 * 1024),
            argon2_time_cost=_int(env, "ARGON2_TIME_COST", 2),
            argon2_parallelism=_int(env, "ARGON2_PARALLELISM", 1),
            # A connection per request thread: raising WEB_THREADS alone must not leave threads waiting.
            db_pool_size=_int(env, "DB_POOL_SIZE", _int(env, "WEB_THREADS", 8)),
            db_max_overflow=_int(env, "DB_MAX_OVERFLOW", 2),
            db_statement_timeout_ms=_timeout_ms(env, "DB_STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS),
            db_pooler=_pooler(env),
            relay_database_url=env.get("RELAY_DATABASE_URL", ""),
            database_replica_urls=_replica_urls(env, database_url),
            replica_max_lag_ms=_at_least(0, env, "REPLICA_MAX_LAG_MS", 1000),
            order_lock_timeout_ms=_lock_timeout_ms(env),
            cors_origins=tuple(o.strip() for o in env.get("CORS_ORIGINS", "").split(",") if o.strip()),
            redis_url=env.get("REDIS_URL", ""),
            cache_ttl_seconds=_int(env, "CACHE_TTL_SECONDS", 60),
            ratelimit_enabled=env.get("RATELIMIT_ENABLED", "true").lower() not in {"0", "false", "no"},
            ratelimit_storage_uri=storage_uri,
            ratelimit_login_failures=_limit(env, "RATELIMIT_LOGIN_FAILURES", "5 per minute"),
            ratelimit_password_changes=_limit(env, "RATELIMIT_PASSWORD_CHANGES", "5 per hour"),
            ratelimit_per_address=_limit(env, "RATELIMIT_PER_ADDRESS", "300 per minute"),
            metrics_token=metrics_token,
            metrics_public=metrics_public,
            trusted_hosts=trusted_hosts or LOCAL_HOSTS,
            proxy_hops=_at_least(0, env, "PROXY_HOPS"),
            broker_url=env.get("BROKER_URL", ""),
            outbox_retention=timedelta(hours=_at_least(1, env, "OUTBOX_RETENTION_HOURS", 72)),
            relay_host=env.get("RELAY_HOST") or "127.0.0.1",
            relay_port=_at_least(1, env, "RELAY_PORT", 8001),
            log_level=_log_level(env),
            secret_is_generated=generated,
            **_webhook_settings(env, var, production=production, seals=signs if seals is None else seals, jwt=secret),
        )


def _webhook_settings(env: dict[str, str], var: Path, *, production: bool, seals: bool, jwt: str) -> dict[str, Any]:
    allow_private = _bool(env, "WEBHOOK_ALLOW_PRIVATE", default=False)
    if production and allow_private:
        raise SettingsError("WEBHOOK_ALLOW_PRIVATE=true is for development and tests; production refuses it.")
    try:
        schedule = RetrySchedule.parse(env["WEBHOOK_RETRY_SCHEDULE"]) if env.get("WEBHOOK_RETRY_SCHEDULE") else None
    except ValueError as error:
        raise SettingsError(f"WEBHOOK_RETRY_SCHEDULE: {error}") from None
    return {
        "webhook_secret_key": _webhook_key(env, var, production=production, seals=seals, jwt=jwt),
        "webhook_allow_private": allow_private,
        "webhook_retry_schedule": schedule.delays if schedule else DEFAULT_SCHEDULE,
        "webhook_disable_after": timedelta(hours=_at_least(1, env, "WEBHOOK_DISABLE_AFTER_HOURS", 72)),
        # A claim must outlive the longest attempt (15 s), or a second deliverer could send it meanwhile.
        "webhook_claim": timedelta(seconds=_at_least(20, env, "WEBHOOK_CLAIM_SECONDS", 60)),
        "webhook_concurrency": _at_least(1, env, "WEBHOOK_CONCURRENCY", 16),
        "webhook_log_retention": timedelta(days=_at_least(1, env, "WEBHOOK_LOG_RETENTION_DAYS", 30)),
        "webhooks_host": env.get("WEBHOOKS_HOST") or "127.0.0.1",
        "webhooks_port": _at_least(1, env, "WEBHOOKS_PORT", 8002),
    }


def _webhook_key(env: dict[str, str], var: Path, *, production: bool, seals: bool, jwt: str) -> str:
    """WEBHOOK_SECRET_KEY, or in development one derived from the JWT key (the generated one in var/
    included, which the deliverer reads too). Production without it: the API serves, webhooks answer
    503 (a release adding webhooks must not stop a deployment that uses none); the deliverer refuses
    to start (see `shop webhooks`)."""
    key = env.get("WEBHOOK_SECRET_KEY", "")
    if key:
        if production and len(key.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"WEBHOOK_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production.")
        return key
    if production or not seals:
        return ""
    material = jwt or _secret(env, var)[0]
    return "webhooks:" + hmac.new(material.encode(), b"shop webhook secret key", hashlib.sha256).hexdigest()


def _bool(env: dict[str, str], name: str, *, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in {"true", "false", "1", "0", "yes", "no"}:
        raise SettingsError(f"{name} must be true or false, got {env[name]!r}")
    return raw in {"true", "1", "yes"}


def _hosts(env: dict[str, str]) -> tuple[str, ...]:
    """TRUSTED_HOSTS: names (a leading dot admits every subdomain), ports ignored."""
    return tuple(host.strip().lower() for host in env.get("TRUSTED_HOSTS", "").split(",") if host.strip())


def _limit(env: dict[str, str], name: str, default: str) -> str:
    """One limit as flask-limiter writes it: "5 per minute", "10/hour", "3 per 15 minutes"."""
    from limits import parse_many

    text = env.get(name) or default
    try:
        parsed = parse_many(text)
    except ValueError:
        raise SettingsError(f"{name} must read like '5 per minute', got {text!r}") from None
    if len(parsed) != 1 or parsed[0].amount < 1:
        raise SettingsError(f"{name} must be one limit of at least 1, got {text!r}")
    return text


def _storage_uri(env: dict[str, str], *, production: bool) -> str:
    """Where the limits count: "" (the database), Redis, or memory:// (each process on its own)."""
    uri = env.get("RATELIMIT_STORAGE_URI", "").strip()
    if uri and uri != "memory://" and not uri.startswith(REDIS_SCHEMES):
        raise SettingsError(
            f"RATELIMIT_STORAGE_URI must be unset (the database), redis://... or memory://, got {uri!r}"
        )
    if uri == "memory://" and production:
        raise SettingsError(
            "RATELIMIT_STORAGE_URI=memory:// counts failed logins per process: in production leave it unset "
            "(the database) or name Redis."
        )
    if uri == "memory://":
        log.warning("RATELIMIT_STORAGE_URI=memory://: each worker process counts failed logins on its own.")
    return uri


def _var_dir(env: dict[str, str]) -> Path:
    return Path(env.get("SHOP_VAR_DIR", "var")).resolve()


def database_url_from_env(env: dict[str, str] | None = None, var_dir: Path | None = None) -> str:
    """DATABASE_URL, or the SQLite file in var/ (its directory made). All `shop migrate` needs:
    the migrations Job gets the database's credentials and nothing else."""
    env = dict(os.environ if env is None else env)
    url = env.get("DATABASE_URL") or f"sqlite:///{(var_dir or _var_dir(env)) / 'shop.db'}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


def _timeout_ms(env: dict[str, str], name: str, default: int) -> int:
    """0 (no deadline) or at least 100 ms: anything shorter would fail ordinary statements."""
    value = _int(env, name, default)
    if value != 0 and value < 100:
        raise SettingsError(f"{name} must be 0 (no deadline) or at least 100, got {value}")
    return value


def _replica_urls(env: dict[str, str], database_url: str) -> tuple[str, ...]:
    urls = tuple(url.strip() for url in env.get("DATABASE_REPLICA_URLS", "").split(",") if url.strip())
    if urls and not database_url.startswith("postgresql"):
        raise SettingsError("DATABASE_REPLICA_URLS needs a PostgreSQL DATABASE_URL (streaming replicas of it).")
    if any(not url.startswith("postgresql") for url in urls):
        raise SettingsError("DATABASE_REPLICA_URLS must be PostgreSQL URLs, comma-separated.")
    return urls


def _pooler(env: dict[str, str]) -> str:
    pooler = env.get("DB_POOLER", "").strip().lower()
    if pooler not in POOLERS:
        raise SettingsError(f"DB_POOLER must be empty or pgbouncer, got {env['DB_POOLER']!r}")
    return pooler


def _lock_timeout_ms(env: dict[str, str]) -> int:
    """Between 100 ms (a busy product must not refuse ordinary orders) and a minute."""
    value = _int(env, "ORDER_LOCK_TIMEOUT_MS", 2000)
    if not 100 <= value <= 60_000:
        raise SettingsError(f"ORDER_LOCK_TIMEOUT_MS must be between 100 and 60000, got {value}")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(env: dict[str, str]) -> str:
    level = (env.get("LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {env['LOG_LEVEL']!r}")
    return level


def _secret(env: dict[str, str], var: Path) -> tuple[str, bool]:
    """JWT_SECRET_KEY, or a development key generated once into var/ so tokens survive restarts."""
    if env.get("JWT_SECRET_KEY"):
        return env["JWT_SECRET_KEY"], False
    path = var / "jwt-secret.dev"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: concurrent workers all end up reading one whole key.
        draft = var / f".jwt-secret.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    log.warning("JWT_SECRET_KEY is not set: using the development key in %s. Never do this in production.", path)
    return path.read_text().strip(), True
