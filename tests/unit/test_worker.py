"""The threaded worker takes new connections only while a thread is free (shop.entrypoints.workers).

Driven through the gunicorn methods it extends, with gunicorn's own configuration and a listening
socket: a gunicorn release that renames them fails here, not in production.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from gunicorn.config import Config  # type: ignore[import-untyped]  # gunicorn ships no types

from shop.entrypoints.workers import ThreadWorker


class HeldPool:
    """A thread pool whose tasks run only when told: each submitted request keeps a thread busy."""

    def __init__(self) -> None:
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.futures.append(future)
        return future


class Connection:
    def __init__(self) -> None:
        self.closed = False

    def close(self, graceful: bool = False) -> None:
        self.closed = True


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.fixture
def worker(listener: socket.socket) -> Iterator[ThreadWorker]:
    cfg = Config()
    cfg.set("threads", 2)
    worker = ThreadWorker(1, os.getpid(), [listener], None, 30, cfg, logging.getLogger("test"))
    worker.tpool = HeldPool()
    worker.poller = selectors.DefaultSelector()
    worker.method_queue.init()
    yield worker
    worker.poller.close()
    worker.tmp.close()


def accepting(worker: ThreadWorker, listener: socket.socket) -> bool:
    return listener in {key.fileobj for key in worker.poller.get_map().values()}


def answer(worker: ThreadWorker, conn: Connection, future: Future[Any]) -> None:
    future.set_result(False)  # answered, connection closed
    worker.finish_request(conn, future)


def test_a_worker_with_every_thread_busy_stops_accepting_until_one_is_free(
    worker: ThreadWorker, listener: socket.socket
) -> None:
    worker.set_accept_enabled(True)
    assert accepting(worker, listener)

    first, second = Connection(), Connection()
    worker.nr_conns = 2
    worker.enqueue_req(first)
    assert accepting(worker, listener)
    worker.enqueue_req(second)
    assert not accepting(worker, listener)

    worker.set_accept_enabled(True)  # gunicorn's loop asks again after each round of events
    assert not accepting(worker, listener)

    answer(worker, first, worker.tpool.futures[0])
    worker.set_accept_enabled(True)
    assert accepting(worker, listener)
    assert first.closed
    assert worker.busy_threads == 1
