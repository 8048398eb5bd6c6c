"""Exactly-once webhook deliveries keyed by (publisher, webhook-id).

The first request inserts a ``processing`` row in its own short transaction; the
unique constraint makes every concurrent duplicate (in any process sharing the
database) fail that insert. A duplicate then reads the row: ``done`` means replay
the stored answer; ``processing`` means wait briefly and look again. A claim whose
holder died (older than the lease) is taken over with a new claim token, and only
the holder of the current token may complete the row.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from service.db.engine import transaction
from service.db.models import WebhookDelivery, utcnow

NEW, REPLAY, CONFLICT, BUSY = "new", "replay", "conflict", "busy"


@dataclass(frozen=True)
class Claim:
    """Outcome of ``claim``: ``kind`` is new, replay, conflict (same id, other body) or busy."""

    kind: str
    delivery_id: int | None = None
    token: str | None = None
    status: int | None = None
    body: str | None = None


def claim(engine: Engine, *, publisher: str, webhook_id: str, digest: str,
          wait_seconds: float = 10.0, lease_seconds: float = 60.0) -> Claim:
    """Claim a delivery for processing, or find the stored answer of an earlier one."""
    deadline = time.monotonic() + wait_seconds
    pause = 0.02
    while True:
        token = secrets.token_hex(16)
        try:
            with transaction(engine) as session:
                row = WebhookDelivery(publisher=publisher, webhook_id=webhook_id, status="processing",
                                      request_digest=digest, claim_token=token)
                session.add(row)
                session.flush()
                return Claim(NEW, row.id, token)
        except IntegrityError:
            pass
        with transaction(engine) as session:
            row = _find(session, publisher, webhook_id)
            if row is not None:
                if row.request_digest != digest:
                    return Claim(CONFLICT, row.id)
                if row.status == "done":
                    return Claim(REPLAY, row.id, status=row.response_status, body=row.response_body)
                if row.updated_at < utcnow() - timedelta(seconds=lease_seconds):
                    taken = _take_over(session, row, token)
                    if taken:
                        return Claim(NEW, row.id, token)
        if time.monotonic() >= deadline:
            return Claim(BUSY, row.id if row is not None else None)
        time.sleep(pause)
        pause = min(pause * 1.5, 0.25)


def _find(session: Session, publisher: str, webhook_id: str) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(WebhookDelivery.publisher == publisher, WebhookDelivery.webhook_id == webhook_id)
    return session.exec(query.execution_options(populate_existing=True)).first()


def _take_over(session: Session, row: WebhookDelivery, token: str) -> bool:
    stmt = (update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id, WebhookDelivery.status == "processing",
                   WebhookDelivery.claim_token == row.claim_token)
            .values(claim_token=token, updated_at=utcnow()))
    return session.exec(stmt).rowcount == 1  # type: ignore[call-overload]


class ClaimLost(Exception):
    """Raised by ``complete`` when another process took the claim over; the transaction must roll back."""


def complete(session: Session, claim_: Claim, *, status: int, body: str) -> None:
    """Store the answer and mark the delivery done, inside the request's transaction."""
    stmt = (update(WebhookDelivery)
            .where(WebhookDelivery.id == claim_.delivery_id, WebhookDelivery.status == "processing",
                   WebhookDelivery.claim_token == claim_.token)
            .values(status="done", response_status=status, response_body=body, updated_at=utcnow()))
    if session.exec(stmt).rowcount != 1:  # type: ignore[call-overload]
        raise ClaimLost(f"delivery {claim_.delivery_id} was taken over by another process")


def release(engine: Engine, claim_: Claim) -> None:
    """Forget an unfinished claim (processing failed unexpectedly) so a retry can run."""
    with transaction(engine) as session:
        session.exec(delete(WebhookDelivery).where(  # type: ignore[call-overload]
            WebhookDelivery.id == claim_.delivery_id, WebhookDelivery.status == "processing",
            WebhookDelivery.claim_token == claim_.token))
