"""One error shape for every 4xx and 5xx: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request

from classifiers.document import DocumentError
from fastapi.exceptions import RequestValidationError
from service.responses import JsonResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """Raised by services and routes; rendered with its status by the handler."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_body(code: str, message: str, field: str | None = None) -> dict:
    err: dict = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return {"error": err}


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's 405 names only the first matching route's)."""
    from starlette.routing import Match

    return ", ".join(method for method in _METHODS if any(
        route.matches({**request.scope, "method": method})[0] == Match.FULL for route in request.app.router.routes))


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _loc_to_field(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return JsonResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(DocumentError)
    async def _document(_: Request, exc: DocumentError):
        return JsonResponse(error_body("unreadable_content", str(exc), exc.field), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _loc_to_field(tuple(first.get("loc", ())))
        message = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            return JsonResponse(error_body("invalid_json", f"request body is not valid JSON: {message}"), status_code=400)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem(s))"
        details = [{"field": _loc_to_field(tuple(e.get("loc", ()))), "message": e.get("msg")} for e in errors[:20]]
        body = error_body("validation_error", message, field)
        body["error"]["details"] = details
        return JsonResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "payload_too_large", 415: "unsupported_media_type"}
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return JsonResponse(error_body(codes.get(exc.status_code, "http_error"), str(exc.detail)), status_code=exc.status_code, headers=headers or None)

    from service.outage import STORAGE_ERRORS, degraded, storage_unavailable  # (imports this module)

    async def _storage(_: Request, exc: Exception):
        degraded("request", exc)
        err = storage_unavailable()
        return JsonResponse(error_body(err.code, err.message), status_code=err.status, headers=err.headers)

    for storage_error in STORAGE_ERRORS:  # the database is down or locked: 503 with Retry-After, not a 500
        app.add_exception_handler(storage_error, _storage)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception):
        return JsonResponse(error_body("internal_error", "unexpected server error"), status_code=500)
