"""Random sequences of catalog and order use cases keep stock accounting exact."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from shop.adapters.memory import MemoryStore, MemoryUnitOfWork
from shop.adapters.memory.outbox import MemoryOutboxRepository
from shop.application.actors import Actor
from shop.application.errors import NotFound
from shop.application.products import ProductChanges
from shop.domain.errors import InsufficientStock, InvalidTransition, InvalidValue
from shop.domain.orders import OrderItem, OrderStatus
from shop.domain.users import Role
from tests.fakes import FakeClock, RecordingBus

from ..support import assembled

UNKNOWN_PRODUCT = 10_000


class OrderSystem(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = MemoryStore()
        self.clock = FakeClock(step=timedelta(seconds=1))
        bus = RecordingBus()
        self.use = assembled(lambda: MemoryUnitOfWork(self.store, bus), clock=self.clock, bus=bus)
        self.manager = Actor(1, Role.MANAGER)
        self.customers = [Actor(2, Role.CUSTOMER), Actor(3, Role.CUSTOMER)]
        # product id -> initial stock + net manager edits; what stock plus held quantities must add up to
        self.expected: dict[int, int] = {}
        self.created = 0

    # helpers

    def product_ids(self) -> list[int]:
        return sorted(self.expected)

    def live_ids(self) -> list[int]:
        return [pid for pid in self.product_ids() if not self.store.state.products[pid].deleted]

    def stocks(self) -> dict[int, int]:
        return {pid: p.stock for pid, p in self.store.state.products.items()}

    def statuses(self) -> dict[int, OrderStatus]:
        return {oid: o.status for oid, o in self.store.state.orders.items()}

    # rules

    @rule(
        stock=st.integers(0, 20),
        price=st.sampled_from(["0.00", "0.99", "10.00", "12.34", "99999999.99"]),
        currency=st.sampled_from(["TWD", "TWD", "TWD", "TWD", "USD"]),
    )
    def create(self, stock: int, price: str, currency: str) -> None:
        self.created += 1
        product = self.use.create_product(
            actor=self.manager, name=f"p{self.created}", price=price, stock=stock, currency=currency
        )
        assert product.id is not None
        assert product.id not in self.expected
        self.expected[product.id] = stock

    @precondition(lambda self: self.live_ids())
    @rule(
        who=st.integers(0, 1),
        start=st.integers(0, 20),
        quantities=st.lists(st.integers(1, 10), min_size=1, max_size=3),
        spoil=st.integers(0, 11),
    )
    def place(self, who: int, start: int, quantities: list[int], spoil: int) -> None:
        """Mostly valid orders on consecutive products; sometimes an unknown product, a bad quantity or none."""
        ids = self.live_ids()
        order_items = [OrderItem(ids[(start + j) % len(ids)], q) for j, q in enumerate(quantities)]
        deleted = sorted(set(self.expected) - set(ids))
        if spoil == 0:
            order_items.append(OrderItem(UNKNOWN_PRODUCT, 1))
        elif spoil == 3 and deleted:
            order_items.append(OrderItem(deleted[start % len(deleted)], 1))
        elif spoil == 1:
            order_items[0] = OrderItem(order_items[0].product_id, 0)
        elif spoil == 2:
            order_items = []
        stocks_before = self.stocks()
        orders_before = self.statuses()
        try:
            placed = self.use.place_order(actor=self.customers[who], items=order_items)
        except (InvalidValue, InsufficientStock):
            assert self.stocks() == stocks_before, "a refused order must not touch stock"
            assert self.statuses() == orders_before, "a refused order must not be stored"
            return
        order_id = placed.order["id"]
        assert order_id not in orders_before
        taken = Counter({item.product_id: item.quantity for item in order_items})
        assert self.stocks() == {pid: stock - taken[pid] for pid, stock in stocks_before.items()}
        assert self.store.state.orders[order_id].user_id == self.customers[who].user_id

    @precondition(lambda self: self.store.state.orders)
    @rule(index=st.integers(0, 50), who=st.sampled_from(["owner", "manager", "stranger"]))
    def cancel(self, index: int, who: str) -> None:
        order_ids = sorted(self.store.state.orders)
        order = self.store.state.orders[order_ids[index % len(order_ids)]]
        owner = next(c for c in self.customers if c.user_id == order.user_id)
        stranger = next(c for c in self.customers if c.user_id != order.user_id)
        actor = {"owner": owner, "manager": self.manager, "stranger": stranger}[who]
        was = order.status
        stocks_before = self.stocks()
        assert order.id is not None
        try:
            self.use.cancel_order(actor=actor, order_id=order.id)
        except NotFound:
            assert who == "stranger"
        except InvalidTransition:
            assert was is not OrderStatus.PLACED
        else:
            assert was is OrderStatus.PLACED
            assert who != "stranger"
            returned = Counter({line.product_id: line.quantity for line in order.lines})
            assert self.stocks() == {pid: stock + returned[pid] for pid, stock in stocks_before.items()}
            assert self.store.state.orders[order.id].status is OrderStatus.CANCELLED
            return
        assert self.stocks() == stocks_before
        assert self.store.state.orders[order.id].status is was

    @precondition(lambda self: self.store.state.orders)
    @rule(index=st.integers(0, 50))
    def fulfil(self, index: int) -> None:
        order_ids = sorted(self.store.state.orders)
        order_id = order_ids[index % len(order_ids)]
        was = self.store.state.orders[order_id].status
        stocks_before = self.stocks()
        try:
            self.use.fulfil_order(actor=self.manager, order_id=order_id)
        except InvalidTransition:
            assert was is not OrderStatus.PLACED
            assert self.store.state.orders[order_id].status is was
        else:
            assert was is OrderStatus.PLACED
            assert self.store.state.orders[order_id].status is OrderStatus.FULFILLED
        assert self.stocks() == stocks_before

    @precondition(lambda self: self.expected)
    @rule(index=st.integers(0, 20), stock=st.integers(0, 30))
    def set_stock(self, index: int, stock: int) -> None:
        ids = self.product_ids()
        product = self.store.state.products[ids[index % len(ids)]]
        assert product.id is not None
        before = product.stock
        try:
            self.use.update_product(actor=self.manager, product_id=product.id, changes=ProductChanges(stock=stock))
        except NotFound:
            assert product.deleted
            assert self.store.state.products[product.id].stock == before
            return
        self.expected[product.id] += stock - before
        assert self.store.state.products[product.id].stock == stock

    @precondition(lambda self: self.expected)
    @rule(index=st.integers(0, 20))
    def delete(self, index: int) -> None:
        ids = self.product_ids()
        product_id = ids[index % len(ids)]
        was_deleted = self.store.state.products[product_id].deleted
        try:
            self.use.delete_product(actor=self.manager, product_id=product_id)
        except NotFound:
            assert was_deleted
        assert self.store.state.products[product_id].deleted

    # invariants

    @invariant()
    def stock_never_negative(self) -> None:
        assert all(p.stock >= 0 for p in self.store.state.products.values())

    @invariant()
    def stock_plus_held_equals_what_came_in(self) -> None:
        held: Counter[int] = Counter()
        for order in self.store.state.orders.values():
            if order.status in (OrderStatus.PLACED, OrderStatus.FULFILLED):
                for line in order.lines:
                    held[line.product_id] += line.quantity
        actual = {pid: p.stock + held[pid] for pid, p in self.store.state.products.items()}
        assert actual == self.expected

    @invariant()
    def every_committed_order_change_has_exactly_its_message(self) -> None:
        """The outbox holds one message per committed change and none for a refused one."""
        told = Counter(
            (message.type, message.aggregate_id)
            for message in MemoryOutboxRepository(lambda: self.store.state).messages()
            if message.aggregate_type == "order"
        )
        expected: Counter[tuple[str, int]] = Counter()
        for order_id, order in self.store.state.orders.items():
            expected["order.placed", order_id] += 1
            if order.status is not OrderStatus.PLACED:
                expected[f"order.{order.status.value}", order_id] += 1
        assert told == expected

    @invariant()
    def totals_add_up(self) -> None:
        for order in self.store.state.orders.values():
            assert order.lines
            currency = order.lines[0].unit_price.currency
            assert all(line.unit_price.currency == currency for line in order.lines)
            assert all(line.total.amount == line.unit_price.amount * line.quantity for line in order.lines)
            assert order.total.currency == currency
            assert order.total.amount == sum(line.unit_price.amount * line.quantity for line in order.lines)


OrderSystem.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_order_system = OrderSystem.TestCase
