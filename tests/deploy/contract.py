"""What the deployment files may rely on: the service's settings and metric names (see the README)."""

from __future__ import annotations

# Every environment variable the service reads (src/shop/entrypoints/settings.py, gunicorn_conf.py).
SERVICE_SETTINGS = frozenset(
    {
        "DATABASE_URL",
        "JWT_SECRET_KEY",
        "SHOP_ENV",
        "HOST",
        "PORT",
        "WEB_CONCURRENCY",
        "TIMEOUT",
        "GRACEFUL_TIMEOUT",
        "FORWARDED_ALLOW_IPS",
        "LOG_LEVEL",
        "PROMETHEUS_MULTIPROC_DIR",
        "METRICS_TOKEN",
        "METRICS_PUBLIC",
        "TRUSTED_HOSTS",
        "PROXY_HOPS",
        "REDIS_URL",
        "CACHE_TTL_SECONDS",
        "RATELIMIT_STORAGE_URI",
        "RATELIMIT_ENABLED",
        "RATELIMIT_LOGIN_FAILURES",
        "RATELIMIT_PASSWORD_CHANGES",
        "RATELIMIT_PER_ADDRESS",
        "DB_POOL_SIZE",
        "DB_MAX_OVERFLOW",
        "DB_STATEMENT_TIMEOUT_MS",
        "DB_POOLER",
        "RELAY_DATABASE_URL",
        "DATABASE_REPLICA_URLS",
        "REPLICA_MAX_LAG_MS",
        "CORS_ORIGINS",
        "JWT_ACCESS_TOKEN_MINUTES",
        "JWT_REFRESH_TOKEN_DAYS",
        "IDEMPOTENCY_KEY_TTL_HOURS",
        "ARGON2_MEMORY_KIB",
        "ARGON2_TIME_COST",
        "ARGON2_PARALLELISM",
        "SHOP_VAR_DIR",
        "GLIBC_TUNABLES",
        "WORKER_CLASS",
        "WEB_THREADS",
        "ORDER_LOCK_TIMEOUT_MS",
        "BROKER_URL",
        "OUTBOX_RETENTION_HOURS",
        "RELAY_HOST",
        "RELAY_PORT",
        "WEBHOOK_SECRET_KEY",
        "WEBHOOK_ALLOW_PRIVATE",
        "WEBHOOK_RETRY_SCHEDULE",
        "WEBHOOK_DISABLE_AFTER_HOURS",
        "WEBHOOK_CLAIM_SECONDS",
        "WEBHOOK_CONCURRENCY",
        "WEBHOOK_LOG_RETENTION_DAYS",
        "WEBHOOKS_HOST",
        "WEBHOOKS_PORT",
        # Tracing (shop.entrypoints.tracing): the OpenTelemetry SDK reads the others it knows itself.
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
    }
)

# What the relay (shop relay) must be given, and nothing more: it signs no token.
REQUIRED_BY_THE_RELAY = frozenset({"DATABASE_URL", "BROKER_URL", "RELAY_HOST"})
# What the relay must never be given: the API's secrets (least privilege).
NOT_FOR_THE_RELAY = frozenset({"JWT_SECRET_KEY", "METRICS_TOKEN"})
# Where the relay serves /health/live, /health/ready and /metrics unless RELAY_PORT says otherwise.
RELAY_PORT = 8001

# What the webhook deliverer (shop webhooks) must be given, and what it must never be.
REQUIRED_BY_THE_DELIVERER = frozenset({"DATABASE_URL", "WEBHOOK_SECRET_KEY", "WEBHOOKS_HOST"})
NOT_FOR_THE_DELIVERER = frozenset({"JWT_SECRET_KEY", "METRICS_TOKEN", "BROKER_URL"})
WEBHOOKS_PORT = 8002

# What a production replica must be given: several replicas share Redis for caches and limits.
REQUIRED_IN_PRODUCTION = frozenset(
    {
        "DATABASE_URL",
        "JWT_SECRET_KEY",
        "SHOP_ENV",
        "REDIS_URL",
        "RATELIMIT_STORAGE_URI",
        "METRICS_TOKEN",
        "TRUSTED_HOSTS",
        "PROXY_HOPS",
    }
)

# Metric families at /metrics and their labels. Counters are exposed with `_total`; the histogram
# as `_bucket` (with `le`), `_sum` and `_count`.
METRICS: dict[str, frozenset[str]] = {
    "shop_http_requests_total": frozenset({"route", "method", "status"}),
    "shop_http_request_duration_seconds_bucket": frozenset({"route", "method", "le"}),
    "shop_http_request_duration_seconds_sum": frozenset({"route", "method"}),
    "shop_http_request_duration_seconds_count": frozenset({"route", "method"}),
    "shop_orders_placed_total": frozenset(),
    "shop_orders_cancelled_total": frozenset(),
    "shop_orders_fulfilled_total": frozenset(),
    "shop_order_stock_rejections_total": frozenset(),
    "shop_login_failures_total": frozenset(),
    "shop_db_connections_in_use": frozenset({"pool"}),
    "shop_http_requests_in_flight": frozenset(),
    "shop_workers": frozenset(),
    "shop_request_slots": frozenset(),
    "shop_outbox_pending": frozenset(),
    "shop_outbox_oldest_pending_seconds": frozenset(),
}

# Metric families at the relay's /metrics (RELAY_PORT).
RELAY_METRICS: dict[str, frozenset[str]] = {
    "shop_events_published_total": frozenset({"type"}),
    "shop_relay_leader": frozenset(),
}

# Metric families at the webhook deliverer's /metrics (WEBHOOKS_PORT).
WEBHOOK_METRICS: dict[str, frozenset[str]] = {
    "shop_webhook_deliveries_total": frozenset({"outcome", "event_type"}),
    "shop_webhook_attempt_duration_seconds_bucket": frozenset({"le"}),
    "shop_webhook_attempt_duration_seconds_sum": frozenset(),
    "shop_webhook_attempt_duration_seconds_count": frozenset(),
    "shop_webhook_delivery_latency_seconds_bucket": frozenset({"le"}),
    "shop_webhook_delivery_latency_seconds_sum": frozenset(),
    "shop_webhook_delivery_latency_seconds_count": frozenset(),
    "shop_webhook_endpoints_disabled_total": frozenset({"reason"}),
    "shop_webhook_endpoints": frozenset({"state"}),
    "shop_webhook_deliveries_waiting": frozenset(),
    "shop_webhook_oldest_waiting_seconds": frozenset(),
    "shop_webhook_endpoint_failing_seconds": frozenset({"endpoint"}),
}
