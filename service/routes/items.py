"""GET /v1/items/{publisher}/{item_id}: an item's current decision, its history, overrides and claim;
and its statement of reasons (EU DSA Transparency Database fields)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from service import overrides as override_service
from service import statement_of_reasons
from service.db import items as item_queries
from service.db.contents import get_content
from service.db.models import ModerationResultRow, utcnow
from service.deps import ReaderKey, ensure_publisher
from service.errors import ApiError
from service.review import claim_dict, claim_holder
from service.schemas import AUTH_RESPONSES, DisclaimerOut, ErrorResponse, LabelOut
from sqlmodel import col, func, select

router = APIRouter(prefix="/v1/items", tags=["items"])

PublisherPath = Annotated[str, Path(max_length=64)]
ItemIdPath = Annotated[str, Path(max_length=256)]
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No stored result for this item"}}


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


class OverrideOut(BaseModel):
    """A moderator's override: what was asked, what it produces, and where it stands."""

    id: int
    publisher: str
    item_id: str
    content_hash: str = Field(description="The content it decides; it stops applying when the content changes.")
    status: str = Field(description="pending, active, withdrawn, superseded, stale (content changed) or expired")
    decision: str
    labels: list[LabelOut]
    forced_decision: str | None
    labels_set: list[dict]
    labels_remove: list[str]
    reason: str
    note: str | None
    requires_approval: bool = Field(description="It lifts extremist_source: a second moderator must approve it.")
    expires_at: str | None
    created_by: str | None
    created_at: str
    approved_by: str | None
    approved_at: str | None
    withdrawn_by: str | None
    withdrawn_at: str | None
    base_result_id: int | None
    result_id: int | None


class ClaimOut(BaseModel):
    claimed_by: str
    claimed_at: str
    expires_at: str


class ItemView(BaseModel):
    """The current decision of one item, its results (newest first), its overrides and who works on it."""

    publisher: str
    item_id: str
    content_hash: str
    version: int | None = Field(description="Changes whenever another result becomes current; send it back as "
                                "`expected_version` with an override.")
    decision: str
    updated_at: str
    current: StoredResult | None
    history: list[StoredResult]
    overrides: list[OverrideOut] = Field(description="Newest first; a stale one is the context of a changed item.")
    claim: ClaimOut | None


def item_view(storage, *, publisher: str, item_id: str, limit: int = 100) -> dict | None:
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
            "version": item.current_result_id,
            "decision": item.decision,
            "updated_at": item.updated_at.isoformat(),
            "current": item_queries.result_dict(current, item) if current is not None else None,
            "history": [item_queries.result_dict(r, item) for r in rows],
            "overrides": [override_service.override_dict(o)
                          for o in override_service.overrides_of(session, publisher=publisher, item_id=item_id)],
            "claim": claim_dict(claim_holder(session, item)),
        }


@router.get("/{publisher}/{item_id}", response_model=ItemView, operation_id="get_item",
            responses={**NOT_FOUND, **AUTH_RESPONSES})
async def get_item(
    request: Request,
    key: ReaderKey,
    publisher: PublisherPath,
    item_id: ItemIdPath,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many results of the history to return.")] = 100,
) -> dict:
    """The item's current decision, its history of results (api, webhook, override, rescan) and its overrides."""
    ensure_publisher(key, publisher)
    storage = request.app.state.services.storage
    view = await anyio.to_thread.run_sync(lambda: item_view(storage, publisher=publisher, item_id=item_id, limit=limit))
    if view is None:
        raise ApiError(404, "item_not_found", f"no stored result for item {item_id!r} of publisher {publisher!r}", "item_id")
    return view


class StatementOfReasons(BaseModel):
    """The current decision as a DSA statement of reasons (`statement` is null when nothing is restricted)."""

    publisher: str
    item_id: str
    result_id: int | None
    decision: str
    source: str | None
    statement_required: bool = Field(description="False for `publish`: no restriction, no statement due.")
    statement: dict[str, Any] | None = Field(description="Fields of the DSA Transparency Database API "
                                             "(`POST /api/v1/statement`): decision_visibility, decision_ground, "
                                             "category, content_type, automated_detection, automated_decision, "
                                             "decision_facts, application_date, puid, ...")


def statement_view(storage, *, publisher: str, item_id: str) -> dict | None:
    with storage.session() as session:
        item = item_queries.get_item(session, publisher=publisher, item_id=item_id)
        if item is None or item.current_result_id is None:
            return None
        current = item_queries.current_result(session, item)
        first_seen = session.exec(select(func.min(ModerationResultRow.created_at))
                                  .where(col(ModerationResultRow.item_pk) == item.id)).one()
        content = get_content(session, item_pk=item.id, content_hash=item.content_hash)  # type: ignore[arg-type]
        override = next((override_service.override_dict(o)
                         for o in override_service.overrides_of(session, publisher=publisher, item_id=item_id)
                         if o.result_id == current.id), None)
        return statement_of_reasons.build(
            publisher=publisher, item_id=item_id, result=item_queries.result_dict(current, item), content=content,
            first_seen=first_seen or current.created_at, decided_at=current.created_at or utcnow(), override=override)


@router.get("/{publisher}/{item_id}/statement-of-reasons", response_model=StatementOfReasons,
            operation_id="get_statement_of_reasons", responses={**NOT_FOUND, **AUTH_RESPONSES})
async def get_statement_of_reasons(request: Request, key: ReaderKey, publisher: PublisherPath,
                                   item_id: ItemIdPath) -> dict:
    """The current decision in the field structure of the EU DSA Transparency Database."""
    ensure_publisher(key, publisher)
    storage = request.app.state.services.storage
    view = await anyio.to_thread.run_sync(lambda: statement_view(storage, publisher=publisher, item_id=item_id))
    if view is None:
        raise ApiError(404, "item_not_found", f"no stored result for item {item_id!r} of publisher {publisher!r}", "item_id")
    return view
