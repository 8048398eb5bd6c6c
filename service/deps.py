"""Shared FastAPI dependencies: JSON bodies and API keys (``CurrentKey``, ``require_role``)."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import KeyInfo, unauthorized
from service.errors import ApiError

__all__ = ["CurrentKey", "KeyInfo", "ModeratorKey", "ReaderKey", "ensure_publisher", "require_json", "require_role"]


async def _require_json(request: Request) -> None:
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip().lower() not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", f"expected application/json, got {ctype!r}", "content-type")


require_json = Depends(_require_json)

_bearer = HTTPBearer(auto_error=False, scheme_name="apiKey",
                     description="An API key (`modlabel keys create --role cms|moderator|admin --publisher P`).")


async def current_key(request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> KeyInfo:
    """The caller's key from ``Authorization: Bearer``; 401 when missing, unknown or revoked; 429 over its rate limit."""
    if credentials is None or not credentials.credentials:
        raise unauthorized("send an API key as `Authorization: Bearer <key>`")
    services = request.app.state.services
    keys = services.keys
    token = credentials.credentials
    if keys.is_fresh(token):
        key = keys.authenticate(token)
    else:
        key = await anyio.to_thread.run_sync(keys.authenticate, token)
    await services.rate_limiter.check_key_async(key)
    return key


CurrentKey = Annotated[KeyInfo, Depends(current_key)]


def require_role(*roles: str):
    """A dependency returning the caller's key when its role is one of ``roles`` (403 otherwise)."""

    async def check(key: CurrentKey) -> KeyInfo:
        if key.role not in roles:
            raise ApiError(403, "forbidden_role", f"this needs a {' or '.join(roles)} key; this key is {key.role}",
                           "authorization")
        return key

    return check


def ensure_publisher(key: KeyInfo, publisher: str) -> None:
    """403 unless ``key`` may act for ``publisher`` (admin keys without a publisher may act for all)."""
    if not key.may_act_for(publisher):
        raise ApiError(403, "forbidden_publisher", f"this key belongs to publisher {key.publisher!r}, not {publisher!r}",
                       "publisher")


ReaderKey = Annotated[KeyInfo, Depends(require_role("cms", "moderator", "admin"))]
ModeratorKey = Annotated[KeyInfo, Depends(require_role("moderator", "admin"))]
