"""The audit trail: one append-only ``audit_events`` row per result, override, approval, withdrawal and key change.

Rows are only ever inserted (the database refuses UPDATE and DELETE with a
trigger). ``actor`` is the API key id that acted, or ``webhook``, ``cli``,
``bootstrap`` or ``system`` (expiry) where no key did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, col, select

from service.db.models import AuditEvent, utcnow

# Action names (``GET /v1/audit?action=override.*`` selects a family).
RESULT = "result"
OVERRIDE_CREATE = "override.create"
OVERRIDE_APPROVE = "override.approve"
OVERRIDE_WITHDRAW = "override.withdraw"
OVERRIDE_EXPIRE = "override.expire"
OVERRIDE_STALE = "override.stale"
KEY_CREATE = "key.create"
KEY_REVOKE = "key.revoke"
KEY_RATE_LIMIT = "key.rate_limit"
REVIEW_CLAIM = "review.claim"
REVIEW_RELEASE = "review.release"


def record(session: Session, *, action: str, actor: str | None, publisher: str | None = None, item_id: str | None = None,
           before: dict | list | None = None, after: dict | list | None = None) -> AuditEvent:
    """Append one event in the caller's transaction (written at its next flush or commit)."""
    event = AuditEvent(actor_key_id=actor, action=action, publisher=publisher, item_id=item_id, before=before, after=after)
    session.add(event)
    return event


_INSERT = insert(AuditEvent.__table__)  # type: ignore[attr-defined]


def append(session: Session, *, action: str, actor: str | None, publisher: str | None = None, item_id: str | None = None,
           before: dict | list | None = None, after: dict | list | None = None) -> None:
    """``record`` for hot paths: one INSERT now, in the caller's transaction, without an ORM object.

    What the caller left pending is written first, so events keep the order they were made in.
    A missing ``before``/``after`` is stored as JSON ``null``, as ``record`` stores it.
    """
    session.flush()
    session.connection().execute(_INSERT, {"actor_key_id": actor, "action": action, "publisher": publisher,
                                           "item_id": item_id, "before": before, "after": after, "created_at": utcnow()})


@dataclass(frozen=True)
class AuditFilter:
    """What ``events`` selects; ``action`` ending in ``*`` is a prefix."""

    publisher: str | None = None
    item_id: str | None = None
    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def events(session: Session, flt: AuditFilter, *, limit: int = 100, before_id: int | None = None) -> tuple[list[AuditEvent], int | None]:
    """Newest first; (page, id to pass as ``before_id`` for the next page, or None at the end)."""
    query = select(AuditEvent)
    if flt.publisher is not None:
        query = query.where(AuditEvent.publisher == flt.publisher)
    if flt.item_id is not None:
        query = query.where(AuditEvent.item_id == flt.item_id)
    if flt.action:
        if flt.action.endswith("*"):
            query = query.where(col(AuditEvent.action).startswith(flt.action[:-1], autoescape=True))
        else:
            query = query.where(AuditEvent.action == flt.action)
    if flt.actor is not None:
        query = query.where(AuditEvent.actor_key_id == flt.actor)
    if flt.since is not None:
        query = query.where(col(AuditEvent.created_at) >= flt.since)
    if flt.until is not None:
        query = query.where(col(AuditEvent.created_at) < flt.until)
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    rows = list(session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def event_dict(event: AuditEvent) -> dict:
    return {
        "id": event.id,
        "created_at": event.created_at.isoformat(),
        "actor": event.actor_key_id,
        "action": event.action,
        "publisher": event.publisher,
        "item_id": event.item_id,
        "before": event.before,
        "after": event.after,
    }


def label_summary(labels: list[dict] | None) -> list[dict]:
    """Labels without their evidence (what the audit trail keeps of a result)."""
    out = []
    for lab in labels or []:
        entry = {"name": lab.get("name"), "confidence": lab.get("confidence"), "stages": lab.get("stages")}
        for key in ("severity", "actors"):
            if lab.get(key) is not None:
                entry[key] = lab[key]
        out.append(entry)
    return out
