"""gunicorn settings, from the environment (HOST, PORT, WEB_CONCURRENCY)."""

import ctypes
import ctypes.util
import gc
import os
from typing import Any

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Load the application once in the master; workers share its pages copy-on-write (measured: about
# 20 MiB less private memory per worker). No database connection is opened before the fork: the
# engines are created on first use, in each worker. A code deploy needs a restart, not a HUP.
preload_app = True


def _release_big_allocations() -> None:
    """argon2 allocates its 19 MiB per hash with malloc. glibc's dynamic mmap threshold then
    grows past it and keeps the buffer on the heap after free: +19 MiB resident per worker after
    the first login (measured). A fixed threshold hands such buffers back to the kernel.
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
