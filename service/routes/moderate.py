"""POST /v1/moderate: label one content item."""

from __future__ import annotations

from fastapi import APIRouter, Request
from service.responses import JsonResponse

from service.deps import require_json
from service.schemas import ERROR_RESPONSES, ContentItem, ModerationResult

router = APIRouter(prefix="/v1", tags=["moderation"])


@router.post("/moderate", response_model=ModerationResult, responses=ERROR_RESPONSES, operation_id="moderate",
             dependencies=[require_json])
async def moderate(item: ContentItem, request: Request) -> JsonResponse:
    """Label one article or media item and return the decision and the disclaimers it needs."""
    services = request.app.state.services
    result = await services.moderate_and_store(item.model_dump(exclude_none=True), request=request)
    return JsonResponse(result)
