"""GET /metrics: Prometheus exposition (requests, decisions, labels, stage timings, versions)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from service.observability import render_metrics

router = APIRouter(tags=["operations"])


@router.get("/metrics", operation_id="metrics", response_class=Response,
            responses={200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> Response:
    """Prometheus metrics of this service (every worker's when PROMETHEUS_MULTIPROC_DIR is set)."""
    return Response(render_metrics(request.app.state.services), media_type=CONTENT_TYPE_LATEST)
