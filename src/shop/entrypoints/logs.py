"""Logs as JSON lines on stdout, each carrying the id of the request it belongs to.

gunicorn's own log (gunicorn_conf.logconfig_dict) and the application's go through the same
formatter, so every line a replica writes is one JSON object. Bearer tokens and JWTs are
redacted from every line as a last line of defence: nothing here logs a request body or its
headers, and the engines hide statement parameters.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

from flask import g, has_request_context
from pythonjsonlogger.orjson import OrjsonFormatter

from shop.adapters import tracing

_FORMAT = "%(levelname)s %(name)s %(process)d %(message)s"
_RENAMED = {"levelname": "level", "name": "logger", "process": "pid"}
_SECRETS = re.compile(
    r"(?i)\bbearer\s+[^\s\"',]+"  # an Authorization header's value
    r"|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # a JWT anywhere
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    # Substring checks first: nearly every string has neither, and they cost far less than the regex.
    if "eyJ" in text or "bearer" in text.lower():
        return _SECRETS.sub(REDACTED, text)
    return text


class JsonFormatter(OrjsonFormatter):
    """One JSON object per line: time, level, logger, pid, message, request_id and any `extra` fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(_FORMAT, rename_fields=_RENAMED, timestamp="time")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: redact(value) if isinstance(value, str) else value for key, value in log_data.items()}


class RequestIdFilter(logging.Filter):
    """Stamps each record made while a request is handled with that request's id, and each record made
    inside a span (with tracing on) with its trace_id and span_id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        if not hasattr(record, "trace_id"):
            ids = tracing.current_ids()
            if ids is not None:
                record.trace_id, record.span_id = ids
        return True


class StdoutJsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to sys.stdout as it is when a line is written (so a redirection or a test capture
    made after the app was created still gets the lines)."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.setFormatter(JsonFormatter())

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return None


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stdout for every logger of the process; calling it again replaces, never duplicates."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StdoutJsonHandler)]:
        root.removeHandler(handler)
    root.addHandler(StdoutJsonHandler())
    root.setLevel(level)
    # The logging HOWTO's optimisations: no line shows the caller's file and line, the thread or
    # the multiprocessing name, so records need not compute them (a stack walk per line).
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    # The readiness probe asks Alembic for the schema's revision, which Alembic reports at INFO; pika
    # reports every step of every connection at INFO.
    for chatty in ("alembic", "pika"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
