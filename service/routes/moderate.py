"""POST /v1/moderate: label one content item."""

from __future__ import annotations

from fastapi import APIRouter, Request
from service.responses import JsonResponse

from service.outage import STORED_HEADER
from service.deps import ReaderKey, ensure_publisher, require_json
from service.schemas import AUTH_RESPONSES, ERROR_RESPONSES, ContentItem, ModerationResult

router = APIRouter(prefix="/v1", tags=["moderation"])


@router.post("/moderate", response_model=ModerationResult, responses={**ERROR_RESPONSES, **AUTH_RESPONSES},
             operation_id="moderate", dependencies=[require_json])
async def moderate(item: ContentItem, request: Request, key: ReaderKey) -> JsonResponse:
    """Label one article or media item and return the decision and the disclaimers it needs.

    With an `id`, the result is also stored as the item's current decision; a moderator's
    override of the same content wins (the answer then carries `override`). Without a
    `publisher`, a publisher's key moderates for its own publisher. With the database
    unavailable the result is still answered, not stored, with `X-Modlabel-Stored: false`.
    """
    data = item.model_dump(exclude_none=True)
    if "publisher" not in item.model_fields_set and key.publisher:
        data["publisher"] = key.publisher
    ensure_publisher(key, data["publisher"])
    store = key.publisher is not None or key.role == "admin"  # "made with a publisher's key" (or an admin's)
    result = await request.app.state.services.moderate_and_store(data, request=request, actor=key.id, store=store)
    unstored = getattr(request.state, "stored", True) is False  # database down: answered, not recorded
    return JsonResponse(result, headers={STORED_HEADER: "false"} if unstored else None)
