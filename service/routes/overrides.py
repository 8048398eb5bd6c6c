"""Moderator overrides of one item: create, withdraw, approve (four eyes for lifting extremist_source)."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from service import overrides as override_service
from service.deps import ModeratorKey, ensure_publisher, require_json
from service.routes.items import ItemIdPath, ItemView, OverrideOut, PublisherPath, item_view
from service.schemas import AUTH_RESPONSES, ERROR_RESPONSES, MAX_ID, ErrorResponse, IsoDateTime, no_bool

router = APIRouter(prefix="/v1/items", tags=["overrides"])

LabelName = Literal["extremist_source", "graphic_violence", "unverified"]
Decision = Literal["publish", "publish_with_disclaimers", "hold_for_review", "block"]


class LabelSet(BaseModel):
    """A label the moderator sets (added, or replacing the automated one of that name)."""

    model_config = ConfigDict(extra="forbid")

    name: LabelName
    severity: Literal["graphic", "extreme"] | None = Field(None, description="graphic_violence only (required for it).")
    actors: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=200)]], Field(max_length=20)] | None = \
        Field(None, description="extremist_source only: the organisations' canonical names.")


class OverrideIn(BaseModel):
    """A moderator's decision on the item's current content."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "publish_with_disclaimers", "labels_remove": ["unverified"], "reason": "verified",
         "note": "Footage confirmed by our Baghdad bureau.", "expected_version": 41},
        {"labels_set": [{"name": "graphic_violence", "severity": "graphic"}], "reason": "not_graphic",
         "expected_content_hash": "9f2c0c1d5b0e3c1b8d5c7e2a4f6b8d0e1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e"},
    ]})

    decision: Decision | None = Field(None, description="Forced decision; without it the policy decides from the labels.")
    labels_set: Annotated[list[LabelSet], Field(max_length=3)] = []
    labels_remove: Annotated[list[LabelName], Field(max_length=3)] = []
    reason: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="A reason code of the publisher's policy (`reason_codes` in labels/policies/*.json).")
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    expires_at: IsoDateTime | None = Field(None, description="After this the automated result applies again.")
    expected_content_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="The content hash the moderator saw; 409 `item_changed` when it differs.")
    expected_version: int | None = Field(None, ge=0, le=MAX_ID, description="The item `version` the moderator saw; 409 `item_changed` "
                                         "when another result became current since.")

    _integers = field_validator("expected_version", mode="before")(no_bool)


class OverrideResponse(BaseModel):
    override: OverrideOut
    item: ItemView


CONFLICTS = {
    404: {"model": ErrorResponse, "description": "No such item or override"},
    409: {"model": ErrorResponse, "description": "The item changed (`item_changed`), another moderator claimed it "
          "(`claimed`), or the override is not in a state for this (`not_pending`, `not_withdrawable`)"},
}


def _run(request: Request, action, publisher: str, item_id: str) -> dict:
    services = request.app.state.services
    ps = services.moderator.policy_set
    with services.storage.session() as session:
        row = action(session, services.moderator, ps)
        out = override_service.override_dict(row)
    return {"override": out, "item": item_view(services.storage, publisher=publisher, item_id=item_id)}


@router.post("/{publisher}/{item_id}/override", status_code=201, response_model=OverrideResponse,
             operation_id="create_override", dependencies=[require_json],
             responses={**ERROR_RESPONSES, **AUTH_RESPONSES, **CONFLICTS})
async def create_override(request: Request, body: OverrideIn, key: ModeratorKey, publisher: PublisherPath,
                          item_id: ItemIdPath) -> dict:
    """Override the item's decision and labels for its current content (until the content changes).

    Lifting an `extremist_source` label stays `pending` until a second, different
    moderator approves it. The answer is the override and the item afterwards.
    """
    ensure_publisher(key, publisher)
    req = override_service.OverrideRequest(
        reason=body.reason, decision=body.decision, labels_set=[s.model_dump(exclude_none=True) for s in body.labels_set],
        labels_remove=list(body.labels_remove), note=body.note, expires_at=body.expires_at,
        expected_content_hash=body.expected_content_hash, expected_version=body.expected_version)

    def action(session, moderator, ps):
        return override_service.create(session, moderator=moderator, ps=ps, key=key, publisher=publisher,
                                       item_id=item_id, req=req)

    return await anyio.to_thread.run_sync(lambda: _run(request, action, publisher, item_id))


@router.post("/{publisher}/{item_id}/override/{override_id}/approve", response_model=OverrideResponse,
             operation_id="approve_override", responses={**AUTH_RESPONSES, **CONFLICTS})
async def approve_override(request: Request, key: ModeratorKey, publisher: PublisherPath, item_id: ItemIdPath,
                           override_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict:
    """Approve a pending override (it lifts extremist_source); the approver must be another moderator."""
    ensure_publisher(key, publisher)

    def action(session, moderator, ps):
        return override_service.approve(session, moderator=moderator, ps=ps, key=key, publisher=publisher,
                                        item_id=item_id, override_id=override_id)

    return await anyio.to_thread.run_sync(lambda: _run(request, action, publisher, item_id))


@router.delete("/{publisher}/{item_id}/override", response_model=OverrideResponse, operation_id="withdraw_override",
               responses={**AUTH_RESPONSES, **CONFLICTS})
async def withdraw_override(request: Request, key: ModeratorKey, publisher: PublisherPath, item_id: ItemIdPath) -> dict:
    """Withdraw the item's newest active, pending or stale override; the automated result applies again."""
    ensure_publisher(key, publisher)

    def action(session, moderator, ps):
        return override_service.withdraw(session, moderator=moderator, ps=ps, key=key, publisher=publisher,
                                         item_id=item_id)

    return await anyio.to_thread.run_sync(lambda: _run(request, action, publisher, item_id))


@router.delete("/{publisher}/{item_id}/override/{override_id}", response_model=OverrideResponse,
               operation_id="withdraw_override_by_id", responses={**AUTH_RESPONSES, **CONFLICTS})
async def withdraw_override_by_id(request: Request, key: ModeratorKey, publisher: PublisherPath, item_id: ItemIdPath,
                                  override_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict:
    """Withdraw one override by id."""
    ensure_publisher(key, publisher)

    def action(session, moderator, ps):
        return override_service.withdraw(session, moderator=moderator, ps=ps, key=key, publisher=publisher,
                                         item_id=item_id, override_id=override_id)

    return await anyio.to_thread.run_sync(lambda: _run(request, action, publisher, item_id))
