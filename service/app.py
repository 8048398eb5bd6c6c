"""Build the FastAPI application (nothing else lives here)."""

from __future__ import annotations

from fastapi import FastAPI
from service.responses import JsonResponse

from service.config import Settings, get_settings
from service.errors import install_error_handlers
from service.limits import BodySizeLimit
from service.observability import RequestContext, check_multiprocess_dir, configure_logging
from service.routes import health, items, metrics, moderate, webhooks
from service.routes import banks, media
from service.routes import audit, overrides, review  # moderators
from service import ui
from service.services import Services
from service.lifecycle import lifespan  # storage's, plus the first admin key and the override sweeper

API_VERSION = "0.1.0"


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    check_multiprocess_dir()
    app = FastAPI(
        title="modlabel",
        version=API_VERSION,
        description="Labels news content for extremist sources, graphic violence and unverified material, "
        "decides how it may be published, and renders the disclaimers it needs.",
        default_response_class=JsonResponse,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services or Services(settings)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(moderate.router)
    app.include_router(webhooks.router)
    app.include_router(items.router)
    app.include_router(metrics.router)
    app.include_router(media.router)
    app.include_router(banks.router)
    app.include_router(banks.entries_router)
    app.include_router(overrides.router)
    app.include_router(review.router)
    app.include_router(audit.router)
    ui.install(app)  # the moderator page at /ui
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes, path_limits={
        "/v1/media/hash": settings.media_max_upload_bytes + 64 * 1024,  # the image plus its multipart envelope
        "/v1/banks/": settings.bank_import_max_bytes,  # CSV and JSON imports
    })
    app.add_middleware(RequestContext)  # outermost: request id, access log, latency
    if settings.reload_on_sighup and isinstance(app.state.services, Services):
        app.state.services.install_sighup()
    return app
