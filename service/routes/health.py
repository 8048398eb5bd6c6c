"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from service.responses import JsonResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz")
async def readyz(request: Request) -> JsonResponse:
    """Database reachable and models loaded; 503 with the reason otherwise."""
    problems = await request.app.state.services.readiness()
    if problems:
        return JsonResponse({"status": "unavailable", "error": {"code": "not_ready", "message": "; ".join(problems)}}, status_code=503)
    return JsonResponse({"status": "ready"})
