"""Pooled PostgreSQL connections that died while idle are replaced, not handed to a request."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from shop.adapters.sql import unit_of_work
from shop.adapters.sql.unit_of_work import SqlUnitOfWork, make_engine


def test_a_connection_killed_while_idle_is_replaced(pg_url, monkeypatch):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        first_pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    libpq_url = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
    monkeypatch.setattr(unit_of_work, "IDLE_PING_S", 0.0)

    with SqlUnitOfWork(engine) as uow:
        assert uow.users.get(1) is None
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != first_pid
    engine.dispose()
