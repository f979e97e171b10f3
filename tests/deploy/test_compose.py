"""docker-compose.yml: the Compose Specification's JSON schema (shipped by check-jsonschema, offline),
then what the stack relies on: start order, one migration run, replicas behind nginx, the relays and
their broker, no secret."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from tests.deploy.contract import (
    NOT_FOR_THE_RELAY,
    RELAY_PORT,
    REQUIRED_BY_THE_RELAY,
    REQUIRED_IN_PRODUCTION,
    SERVICE_SETTINGS,
)

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SECRETS = ("JWT_SECRET_KEY", "METRICS_TOKEN", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD")
FAKE_ENV = {
    "JWT_SECRET_KEY": "k" * 32,
    "METRICS_TOKEN": "metrics-token",
    "POSTGRES_PASSWORD": "pg-password",
    "RABBITMQ_PASSWORD": "mq-password",
    "WEBHOOK_SECRET_KEY": "w" * 32,
}

_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariableError(Exception):
    pass


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution, applied to every string value (keys are left alone)."""
    if isinstance(value, dict):
        return {key: _interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, op, arg = match["name"] or match["bare"], match["op"], match["arg"]
        current = env.get(name)
        if op in {":?", "?"} and (current is None or (op == ":?" and not current)):
            raise MissingVariableError(f"{name}: {arg}")
        if op in {":-", "-"} and (current is None or (op == ":-" and not current)):
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def _raw() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return compose


def _compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    compose: dict[str, Any] = _interpolate(_raw(), FAKE_ENV if env is None else env)
    return compose


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _scrape_job(name: str) -> dict[str, Any]:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    job: dict[str, Any]
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == name]
    return job


def _uses(text: str) -> list[tuple[str, str | None]]:
    """(variable, operator) for every substitution in the file."""
    return [(m["name"] or m["bare"], m["op"]) for m in _VARIABLE.finditer(text) if m[0] != "$$"]


def _check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_file_follows_the_compose_specification() -> None:
    result = _check_schema(COMPOSE)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("condition: service_completed_successfully", "conditon: service_completed_successfully"),
        ("condition: service_completed_successfully", "condition: service_finished"),
        ("replicas: 3", "replica: 3"),
        ("hostname: rabbitmq", "host_name: rabbitmq"),
    ],
)
def test_the_schema_check_catches_mistakes(tmp_path: Path, good: str, bad: str) -> None:
    text = COMPOSE.read_text()
    assert good in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(good, bad))

    result = _check_schema(broken)

    assert result.returncode != 0
    assert "Schema validation errors were encountered" in result.stdout, result.stdout + result.stderr


def test_durations_are_in_compose_syntax() -> None:
    # The schema only says "string"; compose parses Go durations such as 1m30s.
    durations = [
        (name, key, value)
        for name, service in _services().items()
        for key, value in [
            *service.get("healthcheck", {}).items(),
            ("stop_grace_period", service.get("stop_grace_period")),
        ]
        if key in {"interval", "timeout", "start_period", "start_interval", "stop_grace_period"} and value is not None
    ]

    assert len(durations) >= 8
    for name, key, value in durations:
        assert re.fullmatch(r"(\d+(\.\d+)?(ns|us|ms|s|m|h))+", value), f"{name}.{key} = {value!r}"


def test_the_stack_has_its_services_and_the_observability_profile() -> None:
    services = _services()

    assert set(services) == {
        "db", "redis", "rabbitmq", "migrate", "api", "relay", "webhooks", "nginx", "prometheus", "grafana"
    }  # fmt: skip
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"]
    for name in ("db", "redis", "rabbitmq", "migrate", "api", "relay", "webhooks", "nginx"):
        assert "profiles" not in services[name], f"{name} must start without a profile"


def test_postgres_keeps_its_data_in_a_named_volume_and_reports_health() -> None:
    compose = _compose()
    db = compose["services"]["db"]

    assert db["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume, target = db["volumes"][0].split(":")[:2]
    assert target == "/var/lib/postgresql/data"
    assert volume in compose["volumes"]


def test_redis_reports_health() -> None:
    redis = _services()["redis"]

    assert redis["image"].startswith("redis:7")
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_rabbitmq_keeps_its_data_under_a_fixed_node_name_and_reports_health() -> None:
    compose = _compose()
    rabbitmq = compose["services"]["rabbitmq"]

    assert rabbitmq["image"].startswith("rabbitmq:")
    assert rabbitmq["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    volume, target = rabbitmq["volumes"][0].split(":")[:2]
    assert target == "/var/lib/rabbitmq"
    assert volume in compose["volumes"]
    # Its data lives under rabbit@<hostname>: a container's random hostname would orphan it.
    assert rabbitmq["hostname"] == "rabbitmq"
    # The management UI, if published at all, only on this machine; AMQP stays on the compose network.
    assert all(port.startswith("127.0.0.1:") for port in rabbitmq.get("ports", []))
    assert not [port for port in rabbitmq.get("ports", []) if port.endswith(":5672")]


def test_migrations_run_once_in_a_one_shot_service_before_any_replica() -> None:
    services = _services()
    migrate, api = services["migrate"], services["api"]

    assert migrate["command"] == ["shop", "migrate"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    assert (migrate["build"], migrate["image"]) == (api["build"], api["image"])
    assert "deploy" not in migrate
    assert "ports" not in migrate
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"


def test_the_relays_run_after_the_migrations_once_the_broker_is_healthy() -> None:
    services = _services()
    relay, api = services["relay"], services["api"]

    assert relay["command"] == ["shop", "relay"]
    assert "entrypoint" not in relay
    assert (relay["build"], relay["image"]) == (api["build"], api["image"])
    assert relay["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert relay["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    # One publishes, the other stands by to take over.
    assert relay["deploy"]["replicas"] >= 2
    assert "container_name" not in relay  # would forbid a second replica
    assert "ports" not in relay
    assert relay["restart"] == "unless-stopped"


def test_the_relays_get_the_database_and_the_broker_and_no_api_secret() -> None:
    services = _services()
    env = services["relay"]["environment"]

    assert env.keys() <= SERVICE_SETTINGS, env.keys() - SERVICE_SETTINGS
    assert env.keys() >= REQUIRED_BY_THE_RELAY, REQUIRED_BY_THE_RELAY - env.keys()
    assert not env.keys() & NOT_FOR_THE_RELAY
    assert "REDIS_URL" not in env
    # Prometheus scrapes it from its own container: on 127.0.0.1 it could not.
    assert env["RELAY_HOST"] == "0.0.0.0"  # noqa: S104
    # Only the relays talk to the broker.
    for name in ("api", "migrate"):
        assert "BROKER_URL" not in services[name]["environment"], name


def test_the_broker_url_names_the_rabbitmq_service_its_credentials_and_the_contracts_vhost() -> None:
    services = _services()
    rabbitmq = services["rabbitmq"]["environment"]
    url = urlsplit(services["relay"]["environment"]["BROKER_URL"])
    contract = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text())
    vhost = contract["channels"]["events"]["bindings"]["amqp"]["exchange"]["vhost"]

    assert url.scheme == "amqp"
    assert (url.hostname, url.port) == ("rabbitmq", 5672)
    assert url.username == rabbitmq["RABBITMQ_DEFAULT_USER"]
    assert url.password == rabbitmq["RABBITMQ_DEFAULT_PASS"] == FAKE_ENV["RABBITMQ_PASSWORD"]
    # The vhost is the path, URL-encoded: "/" is %2F, and an empty path would not be "/".
    assert unquote(url.path.removeprefix("/")) == vhost


def test_the_relays_health_check_asks_for_readiness_on_the_relay_port() -> None:
    relay = _services()["relay"]
    check = relay["healthcheck"]["test"]
    port = int(relay["environment"].get("RELAY_PORT", RELAY_PORT))

    assert check[0] == "CMD"
    assert f"http://127.0.0.1:{port}/health/ready" in " ".join(check)


def test_the_relays_stop_before_compose_kills_them() -> None:
    grace = re.fullmatch(r"(\d+)s", _services()["relay"]["stop_grace_period"])

    # They stop within a second of SIGTERM; a stuck publish is sent again by the next leader.
    assert grace is not None and 2 <= int(grace[1]) <= 30


def test_the_migrate_service_gets_the_database_and_no_signing_key() -> None:
    environment = _services()["migrate"]["environment"]

    assert "DATABASE_URL" in environment
    assert "JWT_SECRET_KEY" not in environment
    assert "METRICS_TOKEN" not in environment


def test_the_replicas_run_the_image_command_and_never_migrate() -> None:
    api = _services()["api"]

    assert "command" not in api  # the image's: gunicorn alone (test_dockerfile.py)
    assert "entrypoint" not in api
    assert "migrate" not in yaml.safe_dump({key: value for key, value in api.items() if key != "depends_on"})


def test_several_replicas_are_reached_through_nginx_only() -> None:
    services = _services()
    api, nginx = services["api"], services["nginx"]

    assert api["deploy"]["replicas"] >= 2
    assert "ports" not in api  # one host port cannot go to several replicas
    assert [port.rsplit(":", 1)[1] for port in nginx["ports"]] == ["8000"]
    assert nginx["depends_on"]["api"]["condition"] == "service_healthy"
    host, port = nginx["environment"]["SHOP_UPSTREAM"].split(":")
    assert (host, port) == ("api", "8000")


def test_the_replicas_health_check_asks_for_readiness() -> None:
    api = _services()["api"]
    check = " ".join(api["healthcheck"]["test"])

    assert api["healthcheck"]["test"][0] == "CMD"
    assert "http://127.0.0.1:8000/health/ready" in check


def test_the_replicas_get_the_production_settings() -> None:
    api = _services()["api"]
    env = api["environment"]

    assert env.keys() <= SERVICE_SETTINGS, env.keys() - SERVICE_SETTINGS
    assert env.keys() >= REQUIRED_IN_PRODUCTION, REQUIRED_IN_PRODUCTION - env.keys()
    assert env["SHOP_ENV"] == "production"
    assert env["PROXY_HOPS"] == "1"  # nginx
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert urlsplit(env["RATELIMIT_STORAGE_URI"]).hostname == "redis"
    assert env["REDIS_URL"] != env["RATELIMIT_STORAGE_URI"]
    grace = re.fullmatch(r"(\d+)s", api["stop_grace_period"])
    assert grace is not None and int(grace[1]) > int(env["GRACEFUL_TIMEOUT"])


def test_the_database_url_names_the_db_service_and_its_credentials() -> None:
    services = _services()
    db = services["db"]["environment"]
    for service in ("migrate", "api", "relay", "webhooks"):
        url = urlsplit(services[service]["environment"]["DATABASE_URL"])

        assert url.scheme == "postgresql+psycopg"
        assert (url.hostname, url.port) == ("db", 5432)
        assert url.username == db["POSTGRES_USER"]
        assert url.password == db["POSTGRES_PASSWORD"] == FAKE_ENV["POSTGRES_PASSWORD"]
        assert url.path == f"/{db['POSTGRES_DB']}"
    # The relays' lock always connects to PostgreSQL itself, even once DATABASE_URL leads to a pooler.
    assert urlsplit(services["relay"]["environment"]["RELAY_DATABASE_URL"]).hostname == "db"


@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_each_secret(missing: str) -> None:
    env = {name: value for name, value in FAKE_ENV.items() if name != missing}

    with pytest.raises(MissingVariableError, match=missing):
        _compose(env)
    with pytest.raises(MissingVariableError, match=missing):
        _compose({**env, missing: ""})


def test_secrets_are_only_ever_required_never_defaulted() -> None:
    uses = _uses(COMPOSE.read_text())

    for name in SECRETS:
        assert (name, ":?") in uses
        assert {op for used, op in uses if used == name} == {":?"}
    # Every other variable has a default: nothing silently becomes an empty string.
    assert all(op in {":?", ":-"} for _, op in uses), uses


def test_no_secret_is_written_in_the_file() -> None:
    secretish = re.compile(r"SECRET|TOKEN|PASS|_KEY$")
    required = re.compile(r"\$\{[A-Z_]+:\?[^}]*\}")
    checked = 0
    for name, service in _raw()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secretish.search(key):
                # Either taken from the shell as is (no value), or a required substitution.
                assert value is None or required.fullmatch(value), f"{name}.{key} = {value!r}"
                checked += 1
            elif isinstance(value, str) and "@" in value:
                # A URL's password (DATABASE_URL, BROKER_URL) is a required substitution too.
                userinfo = re.search(r"://[^:@/]+:(.*)@[^@]*$", value)
                assert userinfo is not None and required.fullmatch(userinfo[1]), f"{name}.{key} = {value!r}"
                checked += 1
    assert checked >= 8, checked


def test_every_mounted_file_exists_in_the_repository() -> None:
    mounts = [volume.split(":")[0] for service in _services().values() for volume in service.get("volumes", [])]
    local = [source for source in mounts if source.startswith("./")]

    assert len(local) >= 4
    for source in local:
        assert (REPO / source).exists(), source


def test_nginx_mounts_the_templates_and_sets_every_variable_they_use() -> None:
    nginx = _services()["nginx"]
    mounts = dict(volume.split(":")[:2] for volume in nginx["volumes"])
    templates = REPO / next(source for source, target in mounts.items() if target == "/etc/nginx/templates")

    assert nginx["image"].startswith("nginx:")
    files = list(templates.glob("*.template"))
    assert [f.name for f in files] == ["default.conf.template"]  # replaces the image's default.conf
    used = {name for f in files for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", f.read_text())}
    assert used == set(nginx["environment"])
    assert nginx["environment"]["NGINX_PORT"] == "8000"


def test_prometheus_gets_the_metrics_token_as_a_secret_file() -> None:
    compose = _compose()
    prometheus = compose["services"]["prometheus"]
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "shop"]

    [secret] = prometheus["secrets"]
    assert compose["secrets"][secret] == {"environment": "METRICS_TOKEN"}
    assert job["authorization"]["credentials_file"] == f"/run/secrets/{secret}"
    mounts = dict(volume.split(":")[:2] for volume in prometheus["volumes"])
    assert mounts["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_prometheus_finds_every_replica_by_the_api_service_name() -> None:
    [discovery] = _scrape_job("shop")["dns_sd_configs"]

    assert discovery["names"] == ["api"]
    assert discovery["type"] == "A"
    assert discovery["port"] == 8000
    assert "api" in _services()


def test_prometheus_finds_every_relay_and_sends_it_no_token() -> None:
    job = _scrape_job("relay")
    [discovery] = job["dns_sd_configs"]
    relay = _services()["relay"]

    assert discovery["names"] == ["relay"]
    assert discovery["type"] == "A"
    assert discovery["port"] == int(relay["environment"].get("RELAY_PORT", RELAY_PORT))
    assert job["metrics_path"] == "/metrics"
    # The relays' /metrics is open: the API's token has no business going there.
    assert "authorization" not in job
    assert "bearer_token_file" not in job


def test_the_env_example_lists_every_required_variable_without_a_value() -> None:
    lines = (REPO / "deploy" / "env.example").read_text().splitlines()
    settings = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    required = {name for name, op in _uses(COMPOSE.read_text()) if op == ":?"}

    assert set(settings) == required
    assert set(settings.values()) == {""}
