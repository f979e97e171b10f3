"""gunicorn's threaded worker, taking new connections only while it has a thread free.

gunicorn's gthread worker accepts until it holds worker_connections connections, whether its
threads are free or not, and the first worker awake takes what is queued on the shared socket.
When the threads of that worker all wait on the database (a locked row), the requests it took
wait for a thread, liveness probes too, while the other workers idle. This worker stops accepting
while every thread is busy, so new connections go to a worker that can serve them at once; a busy
worker's kept-alive connections stay its own. docs/decisions.md has the measurements.

It relies on three methods of gunicorn's worker (enqueue_req, finish_request, set_accept_enabled),
all run on the worker's main thread, as in gunicorn 24 to 27: pyproject.toml pins that range.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers import gthread  # type: ignore[import-untyped]


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]  # gunicorn is untyped: Any
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.busy_threads = 0

    def enqueue_req(self, conn: Any) -> None:
        self.busy_threads += 1
        if self.busy_threads >= self.cfg.threads:
            super().set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.busy_threads -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        """gunicorn's loop asks for accepting again after each round of events (its own test is
        worker_connections); a thread must be free as well."""
        super().set_accept_enabled(enabled and self.busy_threads < self.cfg.threads)
