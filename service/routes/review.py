"""The review queue: items held for review (oldest first), and claims so two moderators don't work one item."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from service import review
from service.deps import ModeratorKey, ensure_publisher
from service.routes.items import ClaimOut, ItemIdPath, PublisherPath
from service.schemas import AUTH_RESPONSES, ErrorResponse

router = APIRouter(prefix="/v1/review-queue", tags=["review"])


class QueueLabel(BaseModel):
    name: str
    confidence: float | None = None
    stages: list[str] | None = None
    severity: str | None = None
    actors: list[str] | None = None


class PreviousOverride(BaseModel):
    id: int
    decision: str
    reason: str
    created_by: str | None
    status: str


class QueueEntry(BaseModel):
    publisher: str
    item_id: str
    title: str | None
    content_hash: str
    version: int | None
    decision: str
    held_since: str = Field(description="When the item's current decision was first reached.")
    labels: list[QueueLabel]
    claim: ClaimOut | None = Field(description="Who works on it, until when; null when free.")
    previous_override: PreviousOverride | None = Field(description="A moderator's override of older content "
                                                       "(the content changed, so the item came back).")


class QuarantinedEntry(BaseModel):
    """A hash-bank entry that stopped matching pending review (its restore or removal: /v1/banks, admin keys)."""

    bank: str
    bank_publisher: str | None = Field(description="null: a global bank.")
    entry_id: int
    label: str | None
    severity: str | None
    actors: list[str]
    action: str
    matches: int | None = Field(description="Distinct items it matched when quarantined (flood); null when quarantined by hand.")
    threshold: int | None = Field(description="The bank's flood threshold it exceeded.")
    window_seconds: int | None = Field(description="The flood window those matches fell in.")
    quarantined_at: str
    reason: str | None


class QueuePage(BaseModel):
    items: list[QueueEntry]
    next_cursor: str | None
    quarantined_entries: list[QuarantinedEntry] = Field(description="Hash-bank entries (global ones and this "
                                                        "publisher's) quarantined pending review, newest first (50 at most); "
                                                        "the items they blocked are held for review meanwhile.")


class ReleaseOut(BaseModel):
    released: bool


CLAIM_ERRORS = {404: {"model": ErrorResponse, "description": "No such item"},
                409: {"model": ErrorResponse, "description": "Another moderator holds the item (`claimed`)"}}


@router.get("", response_model=QueuePage, operation_id="review_queue", responses=AUTH_RESPONSES)
async def review_queue(
    request: Request,
    key: ModeratorKey,
    publisher: Annotated[str | None, Query(max_length=64)] = None,
    label: Annotated[str | None, Query(max_length=32, description="Only items carrying this label.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict:
    """Items whose current decision is hold_for_review, oldest first, and the hash-bank entries quarantined pending review."""
    if key.publisher is not None:
        if publisher is not None:
            ensure_publisher(key, publisher)
        publisher = key.publisher
    storage = request.app.state.services.storage

    def read() -> dict:
        with storage.session() as session:
            entries, next_cursor = review.queue(session, publisher=publisher, label=label, limit=limit, cursor=cursor)
            quarantined = review.quarantined_entries(session, publisher=publisher)
        return {"items": entries, "next_cursor": next_cursor, "quarantined_entries": quarantined}

    return await anyio.to_thread.run_sync(read)


@router.post("/{publisher}/{item_id}/claim", response_model=ClaimOut, operation_id="claim_item",
             responses={**AUTH_RESPONSES, **CLAIM_ERRORS})
async def claim_item(request: Request, key: ModeratorKey, publisher: PublisherPath, item_id: ItemIdPath) -> dict:
    """Claim an item (or renew your claim) for `review_claim_seconds`."""
    ensure_publisher(key, publisher)
    services = request.app.state.services

    def run() -> dict:
        with services.storage.session() as session:
            row = review.claim(session, key=key, publisher=publisher, item_id=item_id,
                               seconds=services.settings.review_claim_seconds)
            return review.claim_dict(row)

    return await anyio.to_thread.run_sync(run)


@router.post("/{publisher}/{item_id}/release", response_model=ReleaseOut, operation_id="release_item",
             responses={**AUTH_RESPONSES, **CLAIM_ERRORS})
async def release_item(request: Request, key: ModeratorKey, publisher: PublisherPath, item_id: ItemIdPath) -> dict:
    """Give a claimed item back (its claimant or an admin)."""
    ensure_publisher(key, publisher)
    storage = request.app.state.services.storage

    def run() -> dict:
        with storage.session() as session:
            return {"released": review.release(session, key=key, publisher=publisher, item_id=item_id)}

    return await anyio.to_thread.run_sync(run)
