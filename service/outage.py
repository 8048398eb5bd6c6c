"""Database outages: which errors mean "storage unavailable", and how the service degrades.

    moderation with an id  -> answered from the pipeline, not stored  (X-Modlabel-Stored: false)
    signed webhook         -> MODLABEL_WEBHOOK_FAIL_MODE: open = answered, not stored; closed = 503
    API key lookup         -> the last looked-up row of that key is trusted (unknown keys: 503)
    anything else          -> 503 ``storage_unavailable`` with Retry-After
    /readyz                -> 503 "database unreachable"

Each degraded answer is logged (a warning naming the operation and the error class,
never the statement or its parameters) and counted in
``modlabel_storage_unavailable_total{operation}``.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from service.errors import ApiError

__all__ = ["RETRY_AFTER_SECONDS", "STORAGE_ERRORS", "STORED_HEADER", "degraded", "storage_unavailable"]

log = logging.getLogger("modlabel.storage")

# Server gone, connection cut, SQLite locked or read-only, no pooled connection in time.
STORAGE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)
RETRY_AFTER_SECONDS = 5
STORED_HEADER = "X-Modlabel-Stored"  # "false" on an answer that was not recorded

UNAVAILABLE = Counter("modlabel_storage_unavailable", "Operations that went on (or were refused) without the database, "
                      "by operation.", ["operation"])
OPERATIONS = ("moderate", "webhook", "api_key", "request")  # the label values, fixed


def degraded(operation: str, exc: BaseException) -> None:
    """Log and count one operation that went on without the database."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    UNAVAILABLE.labels(operation).inc()
    log.warning("database unavailable (%s: %s); %s answered without storage", type(exc).__name__,
                _first_line(exc), operation)


def storage_unavailable() -> ApiError:
    """The 503 every route answers when it cannot do its work without the database."""
    return ApiError(503, "storage_unavailable", "the database is unavailable; retry later",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _first_line(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's statement and parameters (which may hold secrets)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0][:200] if text else ""
