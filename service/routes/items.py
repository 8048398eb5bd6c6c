"""GET /v1/items/{publisher}/{item_id}: an item's current decision and its history."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from service.db import items as item_queries
from service.errors import ApiError
from service.schemas import DisclaimerOut, ErrorResponse, LabelOut

router = APIRouter(prefix="/v1/items", tags=["items"])


def items_reader() -> None:
    """Authorization hook for reading items: open for now.

    The API-keys task replaces this with ``service.deps.require_role(...)`` (a key
    of the item's publisher, or a moderator/admin key).
    """


class StoredResult(BaseModel):
    result_id: int
    item_id: str
    content_hash: str
    decision: str
    labels: list[LabelOut]
    disclaimers: list[DisclaimerOut]
    policy_version: str
    model_version: str
    source: str
    reason: str | None = None
    created_at: str


class ItemView(BaseModel):
    """The current decision of one item and its results, newest first."""

    publisher: str
    item_id: str
    content_hash: str
    decision: str
    updated_at: str
    current: StoredResult | None
    history: list[StoredResult]


def item_view(storage, *, publisher: str, item_id: str, limit: int) -> dict | None:
    with storage.session() as session:
        item = item_queries.get_item(session, publisher=publisher, item_id=item_id)
        if item is None:
            return None
        rows = item_queries.history(session, item, limit=limit)
        current = item_queries.current_result(session, item)
        return {
            "publisher": item.publisher,
            "item_id": item.item_id,
            "content_hash": item.content_hash,
            "decision": item.decision,
            "updated_at": item.updated_at.isoformat(),
            "current": item_queries.result_dict(current, item) if current is not None else None,
            "history": [item_queries.result_dict(r, item) for r in rows],
        }


@router.get("/{publisher}/{item_id}", response_model=ItemView, operation_id="get_item",
            dependencies=[Depends(items_reader)],
            responses={404: {"model": ErrorResponse, "description": "No stored result for this item"}})
async def get_item(
    request: Request,
    publisher: Annotated[str, Path(max_length=64)],
    item_id: Annotated[str, Path(max_length=256)],
    limit: Annotated[int, Query(ge=1, le=1000, description="How many results of the history to return.")] = 100,
) -> dict:
    """The item's current decision and its history of results (api, webhook, override, rescan)."""
    storage = request.app.state.services.storage
    view = await anyio.to_thread.run_sync(lambda: item_view(storage, publisher=publisher, item_id=item_id, limit=limit))
    if view is None:
        raise ApiError(404, "item_not_found", f"no stored result for item {item_id!r} of publisher {publisher!r}", "item_id")
    return view
