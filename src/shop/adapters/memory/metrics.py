from __future__ import annotations

from collections import Counter


class MemoryMetrics:
    """Counts the business events in a Counter, for tests and for running the use cases alone."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def order_placed(self) -> None:
        self.counts["order_placed"] += 1

    def order_cancelled(self) -> None:
        self.counts["order_cancelled"] += 1

    def order_fulfilled(self) -> None:
        self.counts["order_fulfilled"] += 1

    def stock_rejected(self) -> None:
        self.counts["stock_rejected"] += 1

    def login_failed(self) -> None:
        self.counts["login_failed"] += 1
