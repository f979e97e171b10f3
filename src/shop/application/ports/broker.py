"""What the relay needs to send the outbox out: a broker to publish to, and a say in which relay
publishes."""

from __future__ import annotations

from typing import Protocol

from shop.application.messages import OutboxEntry


class PublishFailed(Exception):
    """The broker could not be reached, or did not confirm a message."""


class Publisher(Protocol):
    def publish(self, entry: OutboxEntry) -> None:
        """Return once the broker has confirmed the message; PublishFailed otherwise."""

    def close(self) -> None:
        """Drop the connection; the next publish opens a new one."""


class Leadership(Protocol):
    """Which of the running relays publishes: at most one holds it at any time."""

    def hold(self) -> bool:
        """True while this relay is, or has just become, the one that publishes."""

    def release(self) -> None: ...
