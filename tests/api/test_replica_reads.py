"""Through HTTP, with a real streaming replica (DATABASE_REPLICA_URLS) and no Redis: a product page is
served by the replica; a manager who has just renamed the product reads the new name back at once
while the replica still has the old one; a customer may be shown the old one only while the replica is
less than REPLICA_MAX_LAG_MS behind, then the primary answers; and the replica serves again once it
has caught up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from prometheus_client import REGISTRY

from shop.adapters.sql.migrations import upgrade
from shop.application.reads import reading_as
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings
from tests.api.conftest import Api
from tests.conftest import StreamingPair
from tests.servers import wait_until
from tests.support import use_cases

# A primary and a replica of their own, started for the test (a few seconds).
pytestmark = pytest.mark.system

MAX_LAG_MS = 3000


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(condition, timeout, what, lambda: "")


def served(server: str) -> float:
    """How many reads `server` (primary, or a replica's host:port) has served in this process."""
    return REGISTRY.get_sample_value("shop_db_reads_total", {"server": server}) or 0.0


def test_a_product_page_is_read_from_the_replica_within_the_bound_and_your_own_write_from_the_primary(
    streaming_pair: StreamingPair, tmp_path: Path
) -> None:
    primary = streaming_pair.primary
    upgrade(primary.url())
    replica = streaming_pair.replica()
    replica_name = f"127.0.0.1:{replica.port}"
    env = {
        "DATABASE_URL": primary.url(),
        "DATABASE_REPLICA_URLS": replica.url(),
        "REPLICA_MAX_LAG_MS": str(MAX_LAG_MS),
        "JWT_SECRET_KEY": "x" * 48,
    }
    settings = replace(Settings.from_env(env=env, var_dir=tmp_path), argon2_memory_kib=64, argon2_time_cost=1)
    app = create_app(settings)
    use_cases(app).make_manager(username="boss", password="correct horse battery")
    api = Api(app.test_client())
    manager = api.login("boss", "correct horse battery")["access"]
    api.signup("carol")
    customer = api.login("carol")["access"]
    created = api.call("POST", "/products/", manager, json={"name": "Tea", "price": "10.50", "stock": 5})
    assert created.status_code == 201
    page = f"/products/{created.get_json()['id']}/"

    def customer_reads() -> str:
        response = api.call("GET", page, customer)
        assert response.status_code == 200, response.get_json()
        return str(response.get_json()["name"])

    # Once the replica has replayed the product, the customer's page comes from it.
    before = served(replica_name)
    until(lambda: customer_reads() == "Tea" and served(replica_name) > before, 10, "the replica serving the page")

    with psycopg.connect(replica.url().replace("+psycopg", ""), autocommit=True) as standby:
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            renamed = api.call("PATCH", page, manager, json={"name": "Green tea"})
            assert renamed.status_code == 200, renamed.get_json()
            written = time.monotonic()

            # The manager reads their own write at once: the replica doesn't have it, so the primary.
            at_primary = served("primary")
            assert api.call("GET", page, manager).get_json()["name"] == "Green tea"
            assert served("primary") == at_primary + 1

            # The customer may see the old name, from the replica, while it is less than the bound behind...
            at_replica = served(replica_name)
            assert customer_reads() == "Tea"
            assert served(replica_name) == at_replica + 1
            assert time.monotonic() - written < MAX_LAG_MS / 1000

            # ...and never once it is further behind: then the primary serves, with the new name.
            until(lambda: customer_reads() == "Green tea", MAX_LAG_MS / 1000 + 5, "the primary serving the customer")
            assert time.monotonic() - written >= MAX_LAG_MS / 1000 - 0.2  # the poller's step
            at_replica = served(replica_name)
            assert customer_reads() == "Green tea"  # having seen it, never the old name again
            assert served(replica_name) == at_replica
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")

    # Caught up again, the replica serves the customer the new name.
    before = served(replica_name)
    until(lambda: customer_reads() == "Green tea" and served(replica_name) > before, 10, "the replica serving again")
    reading_as(None)
