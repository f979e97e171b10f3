"""Python function calls per POST /orders/, counted by cProfile through Flask's test client.

    .venv/bin/python bench/profile_orders.py [--orders 500] [--database-url URL]

The database (default: a fresh SQLite file) is migrated first; one customer orders one unit of a
random product of 20, N times after a warm-up. Prints calls per order and the functions that make
most of them. Run it from another tree (PYTHONPATH=<tree>/src) to compare two commits."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import tempfile
from dataclasses import replace
from pathlib import Path

from shop.adapters.sql.migrations import upgrade
from shop.entrypoints.app import create_app
from shop.entrypoints.settings import Settings

PASSWORD = "correct horse battery staple"  # noqa: S105  # a throwaway account in a throwaway database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dump", default=None, help="write the pstats file there")
    options = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="shop-profile-"))
    url = options.database_url or f"sqlite:///{var / 'shop.db'}"
    upgrade(url)
    settings = Settings.from_env(env={"DATABASE_URL": url, "JWT_SECRET_KEY": "x" * 48}, var_dir=var)
    app = create_app(replace(settings, argon2_memory_kib=64, argon2_time_cost=1))
    client = app.test_client()
    app.container.make_manager(username="boss", password=PASSWORD)  # type: ignore[attr-defined]
    boss = _token(client, "boss")
    products = []
    for index in range(20):
        body = {"name": f"Profiled {index}", "price": "10.00", "currency": "TWD", "stock": 1_000_000}
        response = client.post("/products/", json=body, headers={"Authorization": f"Bearer {boss}"})
        assert response.status_code == 201, response.get_data(as_text=True)
        products.append(response.get_json()["id"])
    assert client.post("/users/", json={"username": "carol", "password": PASSWORD}).status_code == 201
    headers = {"Authorization": f"Bearer {_token(client, 'carol')}"}

    def order() -> None:
        items = [{"product": random.choice(products), "quantity": 1}]
        response = client.post("/orders/", json={"items": items}, headers=headers)
        assert response.status_code == 201, response.get_data(as_text=True)

    for _ in range(50):
        order()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(options.orders):
        order()
    profile.disable()
    if options.dump:
        profile.dump_stats(options.dump)
    stats = pstats.Stats(profile, stream=io.StringIO())
    calls = sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]
    print(f"{calls / options.orders:.0f} function calls per order ({options.orders} orders, {url.split(':')[0]})")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("ncalls").print_stats(options.top)
    print(out.getvalue())


def _token(client: object, username: str) -> str:
    response = client.post("/api/token/", json={"username": username, "password": PASSWORD})  # type: ignore[attr-defined]
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["access"])


if __name__ == "__main__":
    main()
