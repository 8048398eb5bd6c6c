"""The moderator page at ``/ui``: sign in with a moderator key, work the review queue, override items.

Server-rendered (Jinja2, autoescaped), one small script for keyboard shortcuts,
a signed session cookie and a CSRF token in every form. ``install(app)`` adds the
routes and the static files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

UI_DIR = Path(__file__).resolve().parent

__all__ = ["install", "UI_DIR"]


def install(app: FastAPI) -> None:
    from service.ui.routes import router

    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=UI_DIR / "static"), name="ui-static")
