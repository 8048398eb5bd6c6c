"""Shared FastAPI dependencies."""

from __future__ import annotations

from fastapi import Depends, Request

from service.errors import ApiError


async def _require_json(request: Request) -> None:
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", f"expected application/json, got {ctype!r}", "content-type")


require_json = Depends(_require_json)
