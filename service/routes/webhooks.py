"""POST /v1/webhooks/pre-publish: a CMS asks, signed per Standard Webhooks, whether an item may go out.

Request path::

    signature headers -> publisher -> secrets -> verify -> claim (publisher, webhook-id)
      new:     adapt payload -> moderate -> body_html -> one transaction: result + stored answer
      replay:  the stored answer, byte for byte (the pipeline does not run again)

Which publisher: the ``publisher`` query parameter, else the ``X-Modlabel-Publisher``
header, else the ``publisher`` field of a contract item, else ``default``.
With the database down, ``settings.webhook_fail_mode`` decides: ``open`` answers
from the pipeline alone (signature checked against the last known secrets),
``closed`` answers 503.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Annotated, Literal

import anyio
import orjson
from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from service import webhook_auth
from service.adapters import adapt
from service.body_html import render_body_html
from service.db import deliveries
from service.db.secrets import active_secrets
from service.errors import ApiError, error_body
from service.outage import STORAGE_ERRORS, degraded, storage_unavailable
from service.overrides import store_automated
from service.schemas import ERROR_RESPONSES, RATE_LIMITED, DisclaimerOut, ErrorResponse, LabelOut, OverrideContext

log = logging.getLogger("modlabel.webhooks")
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class PrePublishAnswer(BaseModel):
    """What the CMS gets back: may it publish, and the body with the disclaimers in place."""

    allow: bool = Field(description="True when the decision is publish or publish_with_disclaimers.")
    decision: Literal["publish", "publish_with_disclaimers", "hold_for_review", "block"]
    message: str = Field(description="One sentence for the editor.")
    item_id: str | None
    content_hash: str
    labels: list[LabelOut]
    disclaimers: list[DisclaimerOut]
    body_html: str = Field(description="The body with each disclaimer's html at its placement; other bytes unchanged.")
    payload_shape: Literal["contract", "wordpress", "contentful", "ghost"]
    policy_version: str
    model_version: str
    override: OverrideContext | None = Field(None, description="A moderator's override concerning this item "
                                             "(`applied`: it decided this answer).")


_LAST_SECRETS: dict[tuple[str, str], list[str]] = {}  # (database, publisher) -> last good secrets (fail-open)
_PUBLISHER = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ALLOWED = ("publish", "publish_with_disclaimers")
_MESSAGES = {
    "publish": "No label: ready to publish.",
    "publish_with_disclaimers": "Publish with the disclaimers inserted in body_html ({labels}).",
    "hold_for_review": "Held for review ({labels}): a moderator must decide before this is published.",
    "block": "Blocked: a media item matches a blocking list of this publisher.",
}


def editor_message(result: dict) -> str:
    """One sentence for the editor in the CMS."""
    names = ", ".join(lab["name"].replace("_", " ") for lab in result["labels"]) or "no label"
    return _MESSAGES[result["decision"]].format(labels=names)


def _publisher(query: str | None, header: str | None, body: bytes) -> str:
    name = query or header
    if name is None:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        own = parsed.get("publisher") if isinstance(parsed, dict) else None
        name = own if isinstance(own, str) else "default"
    if not _PUBLISHER.match(name):
        raise ApiError(422, "validation_error", "publisher must match ^[a-z0-9][a-z0-9_.-]*$ (64 characters at most)", "publisher")
    return name


def _answer(services, body: bytes, headers, publisher: str) -> tuple[dict, dict, object]:
    """Adapt, moderate and render the answer (no storage)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    adapted = adapt(payload, publisher=publisher, headers=headers)
    result = services.moderate_sync(adapted.item)  # moderate, with hash-bank sync and flood control
    return _answer_dict(result, adapted), result, adapted


def _answer_dict(result: dict, adapted) -> dict:
    """The answer for one result (the pipeline's, or a moderator's override of this content)."""
    html = render_body_html(adapted.body_html, is_html=adapted.body_is_html, disclaimers=result["disclaimers"],
                            media=adapted.item.get("media"))
    answer = {
        "allow": result["decision"] in ALLOWED,
        "decision": result["decision"],
        "message": editor_message(result),
        "item_id": result["item_id"],
        "content_hash": result["content_hash"],
        "labels": result["labels"],
        "disclaimers": result["disclaimers"],
        "body_html": html,
        "payload_shape": adapted.shape,
        "policy_version": result["policy_version"],
        "model_version": result["model_version"],
    }
    if result.get("override") is not None:
        answer["override"] = result["override"]
    return answer


@dataclass(frozen=True)
class Outcome:
    """What one delivery answers: status, exact body, replayed from storage, stored at all."""

    status: int
    body: bytes
    replayed: bool = False
    stored: bool = True


def _secrets(storage, publisher: str, fail_open: bool) -> tuple[list[str], Exception | None]:
    """(active secrets, None); with fail-open and the database down, (the last good list, the error)."""
    key = (storage.url, publisher)
    try:
        with storage.session() as session:
            secrets = [s.secret for s in active_secrets(session, publisher=publisher)]
    except STORAGE_ERRORS as exc:
        if fail_open and key in _LAST_SECRETS:
            log.warning("database down: checking %s's signature against cached secrets (fail-open)", publisher)
            return _LAST_SECRETS[key], exc
        raise
    _LAST_SECRETS[key] = secrets
    return secrets, None


def _unstored(services, body: bytes, headers, publisher: str, exc: Exception) -> Outcome:
    """Fail-open: answer from the pipeline alone; nothing is recorded (a retry is processed afresh)."""
    degraded("webhook", exc)
    try:
        answer = _answer(services, body, headers, publisher)[0]
        return Outcome(200, orjson.dumps(answer), stored=False)
    except ApiError as exc:
        return Outcome(exc.status, orjson.dumps(error_body(exc.code, exc.message, exc.field)), stored=False)


def handle(services, body: bytes, headers, publisher: str, signed: webhook_auth.SignedHeaders) -> Outcome:
    """Verify, then answer once per webhook-id; runs in a worker thread.

    ``webhook_fail_mode="open"``: while the database is down, a delivery whose
    signature matches the last known secrets is still moderated and answered
    (marked ``X-Modlabel-Stored: false``); ``"closed"`` answers 503 instead.
    """
    settings, storage = services.settings, services.storage
    fail_open = settings.webhook_fail_mode == "open"
    secrets, outage = _secrets(storage, publisher, fail_open)
    webhook_auth.verify(body, signed, secrets)
    services.rate_limiter.check_publisher(publisher)  # signed deliveries only: junk cannot spend a publisher's budget
    if outage is not None:
        return _unstored(services, body, headers, publisher, outage)
    digest = hashlib.sha256(body).hexdigest()
    for _ in range(3):
        try:
            claim = deliveries.claim(storage.engine, publisher=publisher, webhook_id=signed.webhook_id, digest=digest,
                                     wait_seconds=settings.webhook_wait_seconds, lease_seconds=settings.webhook_claim_lease_seconds)
        except STORAGE_ERRORS as exc:
            if not fail_open:
                raise
            return _unstored(services, body, headers, publisher, exc)
        if claim.kind == deliveries.REPLAY:
            return Outcome(claim.status or 200, (claim.body or "").encode(), replayed=True)
        if claim.kind == deliveries.CONFLICT:
            raise ApiError(409, "webhook_id_reused", "this webhook-id was already delivered with a different body", "webhook-id")
        if claim.kind == deliveries.BUSY:
            break
        try:
            return _process(services, claim, body, headers, publisher)
        except deliveries.ClaimLost:
            continue  # another process took the claim over: read its answer
        except STORAGE_ERRORS as exc:
            if not fail_open:
                raise
            return _unstored(services, body, headers, publisher, exc)  # the claim lapses after its lease
        except Exception:
            deliveries.release(storage.engine, claim)
            raise
    raise ApiError(409, "delivery_in_progress", "this webhook-id is still being processed; retry shortly", "webhook-id",
                   headers={"Retry-After": "2"})


def _process(services, claim: deliveries.Claim, body: bytes, headers, publisher: str) -> Outcome:
    try:
        answer, result, adapted = _answer(services, body, headers, publisher)
        status, text = 200, orjson.dumps(answer).decode()
    except ApiError as exc:  # a deterministic refusal: stored and replayed like an answer
        result, status, text = None, exc.status, orjson.dumps(error_body(exc.code, exc.message, exc.field)).decode()
    with services.storage.session() as session:
        if result is not None and result.get("item_id"):
            # A moderator's override of this content wins; changed content after one is held (service.overrides).
            final, context = store_automated(session, publisher=publisher, item_id=result["item_id"], result=result,
                                             source="webhook", content={**adapted.item, "publisher": publisher},
                                             actor="webhook", delivery_id=claim.delivery_id)
            if context is not None:
                answer = _answer_dict({**final, "override": context}, adapted)
                text = orjson.dumps(answer).decode()
        deliveries.complete(session, claim, status=status, body=text)
    return Outcome(status, text.encode())


@router.post(
    "/pre-publish",
    operation_id="webhook_pre_publish",
    response_model=PrePublishAnswer,
    responses={**ERROR_RESPONSES,
               401: {"model": ErrorResponse, "description": "Missing or wrong signature, or a timestamp outside the tolerance "
                     "(`missing_signature`, `bad_signature`, `stale_timestamp`)"},
               409: {"model": ErrorResponse, "description": "The webhook-id was used with another body, or is still being processed"},
               **RATE_LIMITED,
               503: {"model": ErrorResponse, "description": "The database is unavailable and `MODLABEL_WEBHOOK_FAIL_MODE` "
                     "is `closed` (with `open`, only before any secret was read): `storage_unavailable`, with Retry-After"}},
)
async def pre_publish(
    request: Request,
    publisher: Annotated[str | None, Query(description="The publisher whose secrets sign this delivery.")] = None,
    x_modlabel_publisher: Annotated[str | None, Header(description="Same as the `publisher` query parameter.")] = None,
    webhook_id: Annotated[str | None, Header(alias="webhook-id", description="Standard Webhooks message id; repeats are answered from storage.")] = None,
    webhook_timestamp: Annotated[str | None, Header(alias="webhook-timestamp", description="Seconds since the epoch.")] = None,
    webhook_signature: Annotated[str | None, Header(alias="webhook-signature", description="`v1,<base64 HMAC-SHA256>`, space-separated.")] = None,
) -> Response:
    """Moderate a CMS item before publication: decision, labels, disclaimers and the body with them inserted.

    The body is a contract item, a WordPress REST post object, a Contentful entry
    webhook or a Ghost post webhook. The same webhook-id again returns the stored answer.
    """
    services = request.app.state.services
    signed = webhook_auth.read_headers(request.headers, tolerance_seconds=services.settings.webhook_tolerance_seconds)
    body = await request.body()
    name = _publisher(publisher, x_modlabel_publisher, body)
    try:
        outcome = await anyio.to_thread.run_sync(handle, services, body, request.headers, name, signed)
    except STORAGE_ERRORS as exc:  # fail-closed (or fail-open before any secret was read): the CMS retries
        degraded("webhook", exc)
        raise storage_unavailable() from None
    headers = {"X-Modlabel-Replayed": "true"} if outcome.replayed else {}
    if not outcome.stored:
        headers["X-Modlabel-Stored"] = "false"
    return Response(content=outcome.body, status_code=outcome.status, media_type="application/json", headers=headers)
