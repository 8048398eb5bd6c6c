"""Operations: Prometheus metrics, JSON log lines and the request id.

One request, seen from here::

    X-Request-ID (kept when a sane short token, else generated) -> contextvar
      -> app -> response (+ X-Request-ID) -> latency histogram per route template
      -> one JSON log line: method, route, status, duration (never headers or bodies)

Metrics live in prometheus-client's default registry. With several uvicorn
workers, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable directory
before the service starts: every worker then writes its samples there and
``/metrics`` (any worker) sums them. The loaded model and policy versions are
an Info metric built at scrape time from the answering worker's own state.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from contextvars import ContextVar
from datetime import datetime, timezone

import orjson
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import InfoMetricFamily
from starlette.datastructures import MutableHeaders
from starlette.routing import Match

from service.errors import error_body

__all__ = ["JsonFormatter", "RequestContext", "configure_logging", "observe_moderation", "observe_policy_reload",
           "render_metrics", "request_id", "uvicorn_log_config"]

REQUEST_ID: ContextVar[str | None] = ContextVar("modlabel_request_id", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
_ID_MAX = 64
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes log at DEBUG

access_log = logging.getLogger("modlabel.access")

# -- metrics -------------------------------------------------------------------------------------

REQUEST_SECONDS = Histogram("modlabel_http_request_duration_seconds", "HTTP request latency by route template.",
                            ["method", "route", "status"])
DECISIONS = Counter("modlabel_decisions", "Moderation decisions by publisher.", ["publisher", "decision"])
LABELS = Counter("modlabel_labels", "Labels attached by publisher.", ["publisher", "label"])
STAGE_SECONDS = Histogram("modlabel_pipeline_stage_duration_seconds", "Time spent in each pipeline stage.", ["stage"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
POLICY_RELOADS = Counter("modlabel_policy_reloads", "Policy reloads (SIGHUP) by outcome.", ["result"])


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    return REQUEST_ID.get()


def _publisher_label(publisher: str, known) -> str:
    """Known publishers by name; anything else is 'other' (a request must not mint new series)."""
    return publisher if publisher in known else "other"


def observe_moderation(policy_set, item: dict, result: dict, timings=None) -> None:
    """Count one result's decision and labels, and record its stage timings."""
    publisher = _publisher_label(item.get("publisher") or "default", policy_set.publishers)
    DECISIONS.labels(publisher, result["decision"]).inc()
    for lab in result.get("labels", ()):
        LABELS.labels(publisher, lab["name"]).inc()
    for stage, seconds in (getattr(timings, "stages", None) or {}).items():
        STAGE_SECONDS.labels(stage).observe(seconds)


def observe_policy_reload(ok: bool) -> None:
    POLICY_RELOADS.labels("ok" if ok else "error").inc()


class _BuildInfo:
    """A one-off collector: the versions the answering process has loaded."""

    def __init__(self, services):
        self.services = services

    def collect(self):
        moderator = self.services.moderator
        family = InfoMetricFamily("modlabel_build", "Loaded model and policy versions.")
        family.add_metric([], {"policy_version": moderator.policy_set.version, "model_version": moderator.model_version,
                               "pid": str(os.getpid())})
        yield family


def render_metrics(services) -> bytes:
    """The exposition text: this process's registry, or every worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    build = CollectorRegistry()
    build.register(_BuildInfo(services))
    return generate_latest(registry) + generate_latest(build)


def check_multiprocess_dir() -> None:
    """Fail at start, not at the first request, when PROMETHEUS_MULTIPROC_DIR is unusable."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path and not (os.path.isdir(path) and os.access(path, os.W_OK)):
        raise RuntimeError(f"PROMETHEUS_MULTIPROC_DIR={path!r} must be an existing, writable directory")


# -- request id, access log, latency -------------------------------------------------------------

def _sane_id(value: str) -> bool:
    return 0 < len(value) <= _ID_MAX and all(c in _ID_CHARS for c in value)


def route_template(scope) -> str:
    """The matched route's path template (``/v1/items/{publisher}/{item_id}``), never the raw path.

    FastAPI records the route it ran in ``scope["route"]``; a request refused before
    routing (413) or served by a plain Starlette route is matched here instead.
    """
    path = getattr(scope.get("route"), "path", None)
    if path:
        return path
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        if isinstance(getattr(route, "path", None), str):
            try:
                if route.matches(scope)[0] is Match.FULL:
                    return route.path
            except Exception:  # noqa: BLE001 (a route that cannot judge this scope)
                continue
    segments = scope.get("path", "").rstrip("/").split("/")
    for template in _templates(app):
        parts = template.rstrip("/").split("/")
        if len(parts) == len(segments) and all(p == s or (p[:1] == "{" and p[-1:] == "}" and s)
                                               for p, s in zip(parts, segments)):
            return template
    return "unmatched"


def _templates(app) -> list[str]:
    """The app's documented path templates, computed once per app."""
    state = getattr(app, "state", None)
    if state is None or not hasattr(app, "openapi"):
        return []
    cached = getattr(state, "route_templates", None)
    if cached is None:
        try:
            cached = sorted(app.openapi().get("paths", {}), key=lambda t: t.count("{"))  # literal segments first
        except Exception:  # noqa: BLE001 (metrics must never fail a request)
            cached = []
        state.route_templates = cached
    return cached


class RequestContext:
    """ASGI middleware (outermost): request id in and out, latency histogram, one access log line."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
        rid = incoming if _sane_id(incoming) else secrets.token_hex(16)
        token = REQUEST_ID.set(rid)
        start = time.perf_counter()
        status = 500
        started = False

        async def send_with_id(message):
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not started:  # the error handler below us did not answer: answer the JSON 500 here
                body = orjson.dumps(error_body("internal_error", "unexpected server error"))
                await send_with_id({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
            raise
        finally:
            seconds = time.perf_counter() - start
            route = route_template(scope)
            method = scope.get("method", "")
            REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)
            level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
            if status >= 500:
                level = logging.ERROR
            access_log.log(level, "request", extra={"method": method, "route": route, "status": status,
                                                    "duration_ms": round(seconds * 1000, 3)})
            REQUEST_ID.reset(token)


# -- logs ----------------------------------------------------------------------------------------

_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName", "color_message"}
_SECRET_PARTS = ("authorization", "api_key", "apikey", "secret", "signature", "password", "token", "cookie", "body")


def _redact(key: str, value):
    lowered = key.lower()
    if any(part in lowered for part in _SECRET_PARTS):
        return "[redacted]"
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, event, request_id and the record's ``extra`` fields.

    Extra fields whose name suggests a secret or content (authorization, signature,
    token, body, ...) are replaced by ``[redacted]``.
    """

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "event": record.getMessage()}
        rid = REQUEST_ID.get()
        if rid:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and key not in out:
                out[key] = _redact(key, value)
        if record.exc_info:
            out["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (test capture and redirects keep working)."""

    _modlabel = True

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route every logger (uvicorn's too) to one stderr handler; idempotent.

    ``fmt`` is ``json`` (one object a line) or ``text`` (the same fields, human-readable).
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_modlabel", False)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")  # ours replaces it: its lines carry raw paths and queries
    uvicorn_access.handlers = []
    uvicorn_access.propagate = False
    uvicorn_access.disabled = True
    for name in ("httpx", "httpcore"):  # request lines would carry callback URLs (and any token in them)
        logging.getLogger(name).setLevel(logging.WARNING)


def uvicorn_log_config(level: str = "INFO", fmt: str = "json") -> dict:
    """A ``log_config`` for ``uvicorn.run``: the supervisor's own lines (several workers) as JSON too.

    Workers configure themselves again in ``create_app``; uvicorn's access log stays
    off (``RequestContext`` writes the access lines).
    """
    text = "%(asctime)s %(levelname)s %(name)s %(message)s"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}, "text": {"format": text}},
        "handlers": {"stderr": {"()": _StderrHandler, "formatter": fmt}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {"uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"}},
    }
