"""GET /v1/audit: the append-only audit trail (results, overrides, approvals, withdrawals, claims, keys)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from service.db import audit
from service.deps import ModeratorKey, ensure_publisher
from service.errors import ApiError
from service.schemas import AUTH_RESPONSES, MAX_ID, ErrorResponse, IsoDateTime

router = APIRouter(prefix="/v1", tags=["audit"])


class AuditEventOut(BaseModel):
    id: int
    created_at: str
    actor: str | None = Field(description="The API key id that acted, or webhook, cli, bootstrap, system.")
    action: str = Field(description="result, override.create, override.approve, override.withdraw, override.expire, "
                        "override.stale, review.claim, review.release, key.create, key.revoke")
    publisher: str | None
    item_id: str | None
    before: Any
    after: Any


class AuditPage(BaseModel):
    events: list[AuditEventOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null at the end.")


@router.get("/audit", response_model=AuditPage, operation_id="list_audit_events",
            responses={**AUTH_RESPONSES, 422: {"model": ErrorResponse, "description": "A filter is invalid"}})
async def list_audit_events(
    request: Request,
    key: ModeratorKey,
    publisher: Annotated[str | None, Query(max_length=64)] = None,
    item_id: Annotated[str | None, Query(max_length=256)] = None,
    action: Annotated[str | None, Query(max_length=64, description="Exact, or a prefix ending in `*` (`override.*`).")] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[IsoDateTime | None, Query(description="Events at or after this time.")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Events before this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> dict:
    """Audit events, newest first; a moderator (or publisher-scoped admin) sees only its publisher's."""
    if key.publisher is not None:
        if publisher is not None:
            ensure_publisher(key, publisher)
        publisher = key.publisher
    before_id = None
    if cursor is not None:
        if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_ID:
            raise ApiError(422, "validation_error", "cursor is not one this service returned", "cursor")
        before_id = int(cursor)
    flt = audit.AuditFilter(publisher=publisher, item_id=item_id, action=action, actor=actor, since=since, until=until)
    storage = request.app.state.services.storage

    def read() -> dict:
        with storage.session() as session:
            rows, next_id = audit.events(session, flt, limit=limit, before_id=before_id)
            return {"events": [audit.event_dict(r) for r in rows], "next_cursor": str(next_id) if next_id else None}

    return await anyio.to_thread.run_sync(read)
