"""gunicorn settings, from the environment: the one configuration `make run`, the Dockerfile, the
benchmark and the system tests all start the service with.

HOST, PORT, WEB_CONCURRENCY (workers), WEB_THREADS (threads per worker), WORKER_CLASS, TIMEOUT,
GRACEFUL_TIMEOUT, LOG_LEVEL and PROMETHEUS_MULTIPROC_DIR are read here; the README lists them.
"""

import ctypes
import ctypes.util
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any


def _metrics_dir() -> tuple[Path, bool]:
    """Where each worker keeps its Prometheus values, set before anything imports prometheus-client.

    PROMETHEUS_MULTIPROC_DIR names a directory of the operator's (say a Kubernetes emptyDir, which
    outlives a container restart): a previous run's files are removed, or their counts would be
    added to this run's. Otherwise a private directory is made, and removed on exit. This module
    runs once per master (gunicorn imports it), so the wipe never hits live workers.
    """
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return path, False
    path = Path(tempfile.mkdtemp(prefix="shop-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path, True


METRICS_DIR, _METRICS_DIR_IS_OURS = _metrics_dir()

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Threads, so that a request waiting on the database (a row lock, a slow query) holds one thread of
# its worker, not the whole worker: with sync workers, four orders stuck behind one locked product
# stopped every endpoint of the replica. docs/decisions.md has the measurements behind the choice.
_WORKER_CLASS = os.environ.get("WORKER_CLASS", "gthread")
threads = int(os.environ.get("WEB_THREADS", "8")) if _WORKER_CLASS == "gthread" else 1
# gthread, but a worker with every thread busy leaves new connections to the others (workers.py).
worker_class = "shop.entrypoints.workers.ThreadWorker" if _WORKER_CLASS == "gthread" else _WORKER_CLASS
# Room for kept-alive connections (nginx's, a client's) beyond the threads serving: with none,
# gunicorn closes every connection after its answer and each request pays a new one.
worker_connections = threads * 4
# A worker silent for this long is killed and replaced (a request stuck on a dead connection).
timeout = int(os.environ.get("TIMEOUT", "30"))
# SIGTERM: the listeners close at once, in-flight requests get this long to finish. Kubernetes
# waits terminationGracePeriodSeconds (35 in deploy/k8s) before its SIGKILL: keep this below.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "25"))
keepalive = 5
# Workers are not recycled after a number of requests (max_requests): each recycled worker would leave
# its metric files behind (a dead worker's counts stay in the totals), and folding them into one file
# needs prometheus-client's private MmapedDict. gunicorn still replaces a worker that dies.
# The application writes one JSON line per request itself (shop.access): no gunicorn access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's own lines (start, worker exits, timeouts) as JSON too, on stdout like the application's.
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"json": {"()": "shop.entrypoints.logs.StdoutJsonHandler"}},
    "root": {"level": loglevel.upper(), "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": [], "propagate": True},
        # With a logging config gunicorn writes access lines whatever `accesslog` says: mute them.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        "alembic": {"level": "WARNING"},
    },
}
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicornc's control socket lives at one path per user: instances on one host would fight over it.
control_socket_disable = True

# Load the application once in the master; workers share its pages copy-on-write (less private
# memory per worker). No database connection is opened before the fork: the
# engines are created on first use, in each worker. A code deploy needs a restart, not a HUP.
preload_app = True


def _release_big_allocations() -> None:
    """argon2 allocates its 19 MiB per hash with malloc. glibc's dynamic mmap threshold then
    grows past it and keeps the buffer on the heap after free, resident in every worker after
    its first login. A fixed threshold hands such buffers back to the kernel.
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (set by make run, the Dockerfile and the bench) makes
    the fresh pages cheap again."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    try:
        mallopt = ctypes.CDLL(libc_name).mallopt
    except (OSError, AttributeError):
        return  # not glibc
    m_mmap_threshold = -3
    mallopt(m_mmap_threshold, 128 * 1024)


_release_big_allocations()


def pre_fork(server: Any, worker: Any) -> None:
    # Objects made at import time never change: keep the collector from touching (and so copying)
    # their pages in every worker.
    gc.collect()
    gc.freeze()


def post_worker_init(worker: Any) -> None:
    """The worker is counted in shop_workers (its threads in shop_request_slots), and stops listening
    at SIGTERM.

    On SIGTERM a worker stops serving only once the requests in hand are done, and keeps its
    copy of the listening socket open until it exits: the kernel goes on queueing connections that
    nobody will accept and that are reset at the end, after the client has sent its request. A
    proxy can't retry those (the request went out). So, at SIGTERM, this worker swaps its listener
    for an idle one of its own: with the master's copy closed too, new connections are refused at
    once, which nginx answers by trying another upstream. Only this worker's descriptor changes,
    so a worker stopped on its own (HUP, TTOU) leaves the others listening.

    Registering the handler again also drops gunicorn's siginterrupt(SIGTERM, False): that is what
    lets the handler run while the worker waits in recv() for the rest of a request (Python then
    resumes the call, PEP 475). tests/system/test_graceful_shutdown.py fails without either.
    Linux only (an abstract Unix socket); elsewhere gunicorn's own behaviour stays.
    """
    from shop.adapters.prometheus import worker_started

    worker_started(slots=threads)
    if not sys.platform.startswith("linux"):
        return
    finish_request = worker.handle_exit

    def stop_accepting(signum: int, frame: Any) -> None:
        finish_request(signum, frame)  # alive = False: leave the loop after the request in hand
        for listener in worker.sockets:
            # An abstract Unix socket nobody connects to, non-blocking: accept() says EAGAIN.
            # gunicorn's wake-up descriptor gets the signal too, so an idle worker leaves select() at once.
            idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            idle.bind("")
            idle.listen(1)
            idle.setblocking(False)
            os.dup2(idle.fileno(), listener.fileno())
            idle.close()

    signal.signal(signal.SIGTERM, stop_accepting)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its gauges stop counting (its counts stay in the totals)."""
    from shop.adapters.prometheus import retire_process

    retire_process(worker.pid)


def on_exit(server: Any) -> None:
    if _METRICS_DIR_IS_OURS:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
