from __future__ import annotations

from datetime import datetime
from typing import Protocol


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...

    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real verify, so unknown usernames can't be told apart by timing."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...


class Metrics(Protocol):
    """Business events counted for the operators (the HTTP layer counts requests itself), by the
    handlers of the events: an order once its transaction committed, a stock-out or a failed login
    when it is refused."""

    def order_placed(self) -> None: ...

    def order_cancelled(self) -> None: ...

    def order_fulfilled(self) -> None: ...

    def stock_rejected(self) -> None: ...

    def login_failed(self) -> None: ...
