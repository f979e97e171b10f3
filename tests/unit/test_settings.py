"""Settings from the environment: safe defaults, and production refuses unsafe keys."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shop.entrypoints.settings import Settings, SettingsError

STRONG = "k" * 32
# What production needs besides a key: how /metrics is protected, and the names clients use.
PRODUCTION = {"SHOP_ENV": "production", "JWT_SECRET_KEY": STRONG, "METRICS_TOKEN": "m", "TRUSTED_HOSTS": "shop.example"}


def test_without_a_key_a_development_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    first = Settings.from_env(env={}, var_dir=tmp_path)
    second = Settings.from_env(env={}, var_dir=tmp_path)

    assert first.secret_is_generated
    assert len(first.jwt_secret_key) >= 32
    assert second.jwt_secret_key == first.jwt_secret_key
    assert (tmp_path / "jwt-secret.dev").stat().st_mode & 0o077 == 0


def test_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    settings = Settings.from_env(env={"JWT_SECRET_KEY": STRONG}, var_dir=tmp_path)

    assert settings.database_url == f"sqlite:///{tmp_path / 'shop.db'}"
    assert settings.access_token_ttl == timedelta(minutes=15)
    assert settings.refresh_token_ttl == timedelta(days=7)
    assert settings.idempotency_key_ttl == timedelta(hours=24)
    assert (settings.argon2_memory_kib, settings.argon2_time_cost) == (19 * 1024, 2)
    assert settings.cors_origins == ()
    assert (settings.ratelimit_login_failures, settings.ratelimit_per_address) == ("5 per minute", "300 per minute")
    assert settings.ratelimit_password_changes == "5 per hour"
    assert settings.ratelimit_storage_uri == ""  # the database: one count for every worker and instance
    assert settings.trusted_hosts == ("localhost", "127.0.0.1")
    assert not settings.metrics_public
    assert (settings.metrics_token, settings.proxy_hops, settings.log_level) == ("", 0, "INFO")
    assert settings.db_statement_timeout_ms == 10_000


def test_the_pool_holds_a_connection_per_request_thread_unless_told_otherwise(tmp_path: Path) -> None:
    threads = Settings.from_env(env={"JWT_SECRET_KEY": STRONG, "WEB_THREADS": "16"}, var_dir=tmp_path)
    told = Settings.from_env(env={"JWT_SECRET_KEY": STRONG, "WEB_THREADS": "16", "DB_POOL_SIZE": "4"}, var_dir=tmp_path)

    assert (threads.db_pool_size, told.db_pool_size) == (16, 4)


def test_production_refuses_the_generated_development_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET_KEY"):
        Settings.from_env(env={"SHOP_ENV": "production"}, var_dir=tmp_path)


def test_production_refuses_a_short_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="32 bytes"):
        Settings.from_env(env={"SHOP_ENV": "production", "JWT_SECRET_KEY": "k" * 31}, var_dir=tmp_path)


def test_production_accepts_a_long_key(tmp_path: Path) -> None:
    settings = Settings.from_env(env=PRODUCTION, var_dir=tmp_path)
    assert settings.production
    assert not settings.secret_is_generated


def test_idempotency_keys_are_kept_at_least_a_day(tmp_path: Path) -> None:
    env = {"JWT_SECRET_KEY": STRONG, "IDEMPOTENCY_KEY_TTL_HOURS": "48"}
    assert Settings.from_env(env=env, var_dir=tmp_path).idempotency_key_ttl == timedelta(hours=48)
    with pytest.raises(SettingsError, match="at least 24"):
        Settings.from_env(env={**env, "IDEMPOTENCY_KEY_TTL_HOURS": "1"}, var_dir=tmp_path)


def test_malformed_numbers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="JWT_ACCESS_TOKEN_MINUTES"):
        Settings.from_env(env={"JWT_SECRET_KEY": STRONG, "JWT_ACCESS_TOKEN_MINUTES": "soon"}, var_dir=tmp_path)


def test_cors_origins_are_a_comma_separated_list(tmp_path: Path) -> None:
    env = {"JWT_SECRET_KEY": STRONG, "CORS_ORIGINS": "https://a.example, https://b.example"}
    assert Settings.from_env(env=env, var_dir=tmp_path).cors_origins == ("https://a.example", "https://b.example")


def test_operations_settings(tmp_path: Path) -> None:
    env = {"JWT_SECRET_KEY": STRONG, "METRICS_TOKEN": "scrape-me", "PROXY_HOPS": "1", "LOG_LEVEL": "warning"}
    settings = Settings.from_env(env=env, var_dir=tmp_path)

    assert (settings.metrics_token, settings.proxy_hops, settings.log_level) == ("scrape-me", 1, "WARNING")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PROXY_HOPS", "-1", "at least 0"),
        ("PROXY_HOPS", "one", "integer"),
        ("LOG_LEVEL", "loud", "one of DEBUG"),
        ("DB_STATEMENT_TIMEOUT_MS", "50", "0 \\(no deadline\\) or at least 100"),
    ],
)
def test_malformed_operations_settings_are_refused(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env={"JWT_SECRET_KEY": STRONG, name: value}, var_dir=tmp_path)


def test_a_statement_timeout_of_zero_means_no_deadline(tmp_path: Path) -> None:
    env = {"JWT_SECRET_KEY": STRONG, "DB_STATEMENT_TIMEOUT_MS": "0"}
    assert Settings.from_env(env=env, var_dir=tmp_path).db_statement_timeout_ms == 0


def test_secrets_stay_out_of_the_settings_repr(tmp_path: Path) -> None:
    env = {"JWT_SECRET_KEY": STRONG + "-secret", "METRICS_TOKEN": "scrape-token"}
    text = repr(Settings.from_env(env=env, var_dir=tmp_path))

    assert STRONG not in text
    assert "scrape-token" not in text


def test_the_relay_settings_have_safe_defaults_and_are_checked(tmp_path: Path) -> None:
    defaults = Settings.from_env(env={"JWT_SECRET_KEY": STRONG}, var_dir=tmp_path)
    assert (defaults.broker_url, defaults.outbox_retention, defaults.relay_host, defaults.relay_port) == (
        "",
        timedelta(hours=72),
        "127.0.0.1",
        8001,
    )
    env = {"BROKER_URL": "amqp://u:p@mq:5672/%2F", "OUTBOX_RETENTION_HOURS": "6", "RELAY_PORT": "9000"}
    chosen = Settings.from_env(env={"JWT_SECRET_KEY": STRONG, **env}, var_dir=tmp_path)
    assert (chosen.broker_url, chosen.outbox_retention, chosen.relay_port) == (
        env["BROKER_URL"],
        timedelta(hours=6),
        9000,
    )
    assert "amqp" not in repr(chosen), "the broker's credentials stay out of logs"
    with pytest.raises(SettingsError, match="OUTBOX_RETENTION_HOURS"):
        Settings.from_env(env={"JWT_SECRET_KEY": STRONG, "OUTBOX_RETENTION_HOURS": "0"}, var_dir=tmp_path)


def test_a_process_that_signs_nothing_gets_no_key(tmp_path: Path) -> None:
    settings = Settings.from_env(env={"SHOP_ENV": "production"}, var_dir=tmp_path, signs=False)
    assert settings.jwt_secret_key == ""
    assert not (tmp_path / "jwt-secret.dev").exists()


def test_production_refuses_open_metrics_unless_told_the_network_keeps_them(tmp_path: Path) -> None:
    open_metrics = {**PRODUCTION, "METRICS_TOKEN": ""}

    with pytest.raises(SettingsError, match="METRICS_TOKEN"):
        Settings.from_env(env=open_metrics, var_dir=tmp_path)
    assert Settings.from_env(env={**open_metrics, "METRICS_PUBLIC": "true"}, var_dir=tmp_path).metrics_public
    with pytest.raises(SettingsError, match="METRICS_PUBLIC must be true or false"):
        Settings.from_env(env={**open_metrics, "METRICS_PUBLIC": "maybe"}, var_dir=tmp_path)


def test_production_refuses_to_start_without_trusted_hosts(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TRUSTED_HOSTS"):
        Settings.from_env(env={**PRODUCTION, "TRUSTED_HOSTS": " , "}, var_dir=tmp_path)


def test_trusted_hosts_are_a_comma_separated_list_of_names(tmp_path: Path) -> None:
    env = {**PRODUCTION, "TRUSTED_HOSTS": "Shop.Example, .shop.example ,api.shop.example"}

    assert Settings.from_env(env=env, var_dir=tmp_path).trusted_hosts == (
        "shop.example",
        ".shop.example",
        "api.shop.example",
    )


def test_the_relay_and_operator_commands_need_neither_metrics_token_nor_trusted_hosts(tmp_path: Path) -> None:
    settings = Settings.from_env(env={"SHOP_ENV": "production"}, var_dir=tmp_path, signs=False)
    assert settings.production


def test_limits_count_in_the_database_in_redis_or_knowingly_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def storage(uri: str) -> str:
        return Settings.from_env(
            env={"JWT_SECRET_KEY": STRONG, "RATELIMIT_STORAGE_URI": uri}, var_dir=tmp_path
        ).ratelimit_storage_uri

    assert storage("redis://127.0.0.1:6379/1") == "redis://127.0.0.1:6379/1"
    assert storage("") == ""
    assert not caplog.records
    assert storage("memory://") == "memory://"
    assert "each worker process counts failed logins on its own" in caplog.text
    with pytest.raises(SettingsError, match="RATELIMIT_STORAGE_URI must be unset"):
        storage("memcached://127.0.0.1:11211")


def test_production_refuses_counting_failed_logins_per_process(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="memory:// counts failed logins per process"):
        Settings.from_env(env={**PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://"}, var_dir=tmp_path)


@pytest.mark.parametrize("name", ["RATELIMIT_LOGIN_FAILURES", "RATELIMIT_PASSWORD_CHANGES", "RATELIMIT_PER_ADDRESS"])
@pytest.mark.parametrize("value", ["often", "5 per minute;10 per hour", "0 per minute"])
def test_malformed_limits_are_refused(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env={"JWT_SECRET_KEY": STRONG, name: value}, var_dir=tmp_path)


def test_limits_read_like_flask_limiters(tmp_path: Path) -> None:
    env = {"JWT_SECRET_KEY": STRONG, "RATELIMIT_LOGIN_FAILURES": "3/minute", "RATELIMIT_PASSWORD_CHANGES": "2 per day"}
    settings = Settings.from_env(env=env, var_dir=tmp_path)

    assert (settings.ratelimit_login_failures, settings.ratelimit_password_changes) == ("3/minute", "2 per day")


def test_the_pooler_is_none_unless_pgbouncer_is_named(tmp_path: Path) -> None:
    default = Settings.from_env(env={"JWT_SECRET_KEY": STRONG}, var_dir=tmp_path)
    env = {"JWT_SECRET_KEY": STRONG, "DB_POOLER": "PgBouncer", "RELAY_DATABASE_URL": "postgresql://u:pa55word@db/shop"}
    behind = Settings.from_env(env=env, var_dir=tmp_path)

    assert (default.db_pooler, default.relay_database_url) == ("", "")
    assert (behind.db_pooler, behind.relay_database_url) == ("pgbouncer", env["RELAY_DATABASE_URL"])
    assert "pa55word" not in repr(behind)
    with pytest.raises(SettingsError, match="DB_POOLER must be empty or pgbouncer, got 'pgpool'"):
        Settings.from_env(env={"JWT_SECRET_KEY": STRONG, "DB_POOLER": "pgpool"}, var_dir=tmp_path)


def test_read_replicas_are_postgresql_urls_of_a_postgresql_primary(tmp_path: Path) -> None:
    primary = "postgresql+psycopg://shop@db/shop"
    env = {"JWT_SECRET_KEY": STRONG, "DATABASE_URL": primary}
    replicas = "postgresql+psycopg://shop@r1/shop, postgresql+psycopg://shop@r2/shop"

    none = Settings.from_env(env=env, var_dir=tmp_path)
    two = Settings.from_env(env={**env, "DATABASE_REPLICA_URLS": replicas}, var_dir=tmp_path)

    assert (none.database_replica_urls, none.replica_max_lag_ms) == ((), 1000)
    assert two.database_replica_urls == ("postgresql+psycopg://shop@r1/shop", "postgresql+psycopg://shop@r2/shop")
    assert "r1" not in repr(two), "replica URLs carry credentials"
    with pytest.raises(SettingsError, match="DATABASE_REPLICA_URLS"):
        Settings.from_env(env={**env, "DATABASE_REPLICA_URLS": "sqlite:///x.db"}, var_dir=tmp_path)
    with pytest.raises(SettingsError, match="PostgreSQL DATABASE_URL"):
        Settings.from_env(env={"JWT_SECRET_KEY": STRONG, "DATABASE_REPLICA_URLS": replicas}, var_dir=tmp_path)
    with pytest.raises(SettingsError, match="REPLICA_MAX_LAG_MS"):
        Settings.from_env(env={**env, "REPLICA_MAX_LAG_MS": "-1"}, var_dir=tmp_path)
