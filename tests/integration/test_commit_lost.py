"""An order whose connection dies at COMMIT: the client can't know whether it was placed. Its retry
with the same Idempotency-Key replays it if it was, places it if it was not: never two orders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.engine import make_url

from shop.adapters.sql.engine import make_engine
from shop.adapters.sql.unit_of_work import SqlUnitOfWork
from shop.application.actors import Actor
from shop.application.errors import OutcomeUnknown
from shop.application.messagebus import MessageBus
from shop.application.orders import Idempotency
from shop.application.ports.orders import OrderQuery
from shop.domain.money import Money
from shop.domain.orders import OrderItem
from shop.domain.products import Product
from shop.domain.users import Role, User
from tests.fakes import FakeClock
from tests.system.tcp_proxy import proxy_to

from ..support import UseCases, assembled

KEY = Idempotency("order-1", "same body")


def use_cases(url: str) -> tuple[UseCases, Callable[[], None]]:
    engine = make_engine(url)
    bus = MessageBus()
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    use = assembled(lambda: SqlUnitOfWork(engine, bus, lock_timeout_ms=2000), clock=clock, bus=bus)
    return use, engine.dispose


@pytest.mark.parametrize("after_sending", [True, False], ids=["committed, answer lost", "never reached the server"])
def test_the_retry_of_an_order_lost_at_commit_places_it_exactly_once(pg_url: str, after_sending: bool) -> None:
    use, dispose = use_cases(pg_url)
    with SqlUnitOfWork(make_engine(pg_url)) as uow:
        uow.users.add(User(username="buyer", password_hash="h"))
        uow.products.add(Product(name="Lamp", price=Money(Decimal("9.99"), "EUR"), stock=10))
        uow.commit()
    buyer, items = Actor(1, Role.CUSTOMER), [OrderItem(1, 2)]
    target = make_url(pg_url)

    with proxy_to(target.host or "127.0.0.1", target.port or 5432) as proxy:
        cut, dispose_cut = use_cases(target.set(port=proxy.port).render_as_string(hide_password=False))
        proxy.lose(b"COMMIT", after_sending=after_sending)
        with pytest.raises(OutcomeUnknown):  # the API's 503: retry with the same key
            cut.place_order(actor=buyer, items=items, idempotency=KEY)
        assert proxy.lost == 1
        dispose_cut()

    retried = use.place_order(actor=buyer, items=items, idempotency=KEY)

    assert retried.replayed is after_sending
    with SqlUnitOfWork(make_engine(pg_url)) as uow:
        assert uow.orders.list(OrderQuery()).total == 1
        product = uow.products.get(1)
        assert product is not None
        assert product.stock == 8
    dispose()
