"""Moderator overrides, and how they shape every automated result of the item.

Lifecycle of one override::

    create --lifts extremist_source--> pending --approve (a second, different moderator)--> active
           \\--otherwise-------------------------------------------------------------------> active
    active  --DELETE--------------------> withdrawn  (the item is moderated again from its stored content)
    active  --expires_at passes---------> expired    (same)
    active/pending --content changes----> stale      (automated results are held for review until a
                                                      moderator decides on the new content)
    active/pending --a newer one applies-> superseded

An active override wins over every stage for its content hash: GET item,
/v1/moderate and the pre-publish webhook answer with its result. Each effective
change goes through ``service.storage.record_decision_change`` (callback via the
outbox) and leaves an audit event. Functions run inside the caller's transaction
and raise ``ApiError`` for the caller's mistakes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from classifiers.document import build_document
from labels.taxonomy import Decision, LabelName, Severity
from service.auth import KeyInfo
from service.db import audit
from service.db import items as item_queries
from service.db.contents import get_content
from service.db.models import Item, ModerationResultRow, Override, utcnow
from service.errors import ApiError
from service.storage import record_decision_change

PENDING, ACTIVE, WITHDRAWN, SUPERSEDED, STALE, EXPIRED = "pending", "active", "withdrawn", "superseded", "stale", "expired"
OPEN = (PENDING, ACTIVE)
# The newest of these decides whether an automated result must wait for a moderator.
_DECISIVE = (ACTIVE, WITHDRAWN, STALE, EXPIRED)
_LABEL_ORDER = [name.value for name in LabelName]
_OVERRIDES_READ = 50  # the newest overrides an automated result is weighed against


@dataclass
class OverrideRequest:
    """What a moderator asks for (validated by the route's pydantic model)."""

    reason: str
    decision: str | None = None
    labels_set: list[dict] = field(default_factory=list)
    labels_remove: list[str] = field(default_factory=list)
    note: str | None = None
    expires_at: datetime | None = None
    expected_content_hash: str | None = None
    expected_version: int | None = None


# ---------------------------------------------------------------- reading


def override_dict(row: Override) -> dict:
    changes = row.changes or {}
    return {
        "id": row.id, "publisher": row.publisher, "item_id": row.item_id, "content_hash": row.content_hash,
        "status": row.status, "decision": row.decision, "labels": row.labels,
        "forced_decision": changes.get("decision"), "labels_set": changes.get("labels_set", []),
        "labels_remove": changes.get("labels_remove", []), "reason": row.reason_code, "note": row.reason_text,
        "requires_approval": bool(row.requires_approval), "expires_at": _iso(row.expires_at),
        "created_by": row.created_by, "created_at": _iso(row.created_at), "approved_by": row.approved_by,
        "approved_at": _iso(row.approved_at), "withdrawn_by": row.withdrawn_by, "withdrawn_at": _iso(row.withdrawn_at),
        "base_result_id": row.base_result_id, "result_id": row.result_id,
    }


def context_dict(row: Override) -> dict:
    """The short form attached to /v1/moderate and webhook answers."""
    return {"id": row.id, "status": row.status, "decision": row.decision, "reason": row.reason_code,
            "content_hash": row.content_hash, "created_by": row.created_by, "created_at": _iso(row.created_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def overrides_of(session: Session, *, publisher: str, item_id: str, limit: int = 50) -> list[Override]:
    """The item's overrides, newest first."""
    return list(session.scalars(_OVERRIDES_OF, {"publisher": publisher, "item_id": item_id, "limit": limit}).all())


_OVERRIDES_OF = (select(Override).where(Override.publisher == bindparam("publisher"), Override.item_id == bindparam("item_id"))
                 .order_by(col(Override.id).desc()).limit(bindparam("limit")))  # built once


def _get_item(session: Session, publisher: str, item_id: str) -> Item:
    """The item, locked for this transaction (PostgreSQL; SQLite transactions are serialised anyway), or a 404."""
    query = select(Item).where(Item.publisher == publisher, Item.item_id == item_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    item = session.exec(query.execution_options(populate_existing=True)).first()
    if item is None:
        raise ApiError(404, "item_not_found", f"no stored result for item {item_id!r} of publisher {publisher!r}", "item_id")
    return item


def _result_as_contract(row: ModerationResultRow, item_id: str) -> dict:
    return {"item_id": item_id, "content_hash": row.content_hash, "decision": row.decision, "labels": row.labels,
            "disclaimers": row.disclaimers, "policy_version": row.policy_version, "model_version": row.model_version}


# ---------------------------------------------------------------- automated results


def store_automated(session: Session, *, publisher: str, item_id: str, result: dict, source: str,
                    content: dict | None = None, actor: str | None = None, delivery_id: int | None = None,
                    now: datetime | None = None) -> tuple[dict, dict | None]:
    """Store an api/webhook result under the item's overrides; (the answer to give, override context or None).

    - an active override of this content: the answer is the override's result;
    - the content changed since a moderator's override: that override turns stale and
      the result is held for review (a block stays a block), with the old override as context;
    - otherwise the result as computed.
    """
    now = now or utcnow()
    content_hash = result["content_hash"]
    # Lock (or create) the item first, so an override being recorded concurrently is seen whole
    # (SQLite transactions are serialised already); ``store_result`` below works on this lock.
    locked = item_queries.lock_item(session, publisher=publisher, item_id=item_id, content_hash=content_hash,
                                    decision=result["decision"])
    new_item = locked[1]  # created just now: nothing can refer to it yet
    rows = [] if new_item else overrides_of(session, publisher=publisher, item_id=item_id, limit=_OVERRIDES_READ)
    for row in rows:
        if row.status in OPEN and row.expires_at is not None and row.expires_at <= now:
            _set_status(session, row, EXPIRED, actor="system", action=audit.OVERRIDE_EXPIRE)  # the new result follows
        elif row.status in OPEN and row.content_hash != content_hash:
            _set_status(session, row, STALE, actor=actor, action=audit.OVERRIDE_STALE,
                        extra={"new_content_hash": content_hash})
    decisive = next((r for r in rows if r.status in _DECISIVE), None)
    pending = next((r for r in rows if r.status == PENDING and r.content_hash == content_hash), None)
    answer, context = result, None
    if decisive is not None and decisive.status == ACTIVE and decisive.content_hash == content_hash:
        context = {**context_dict(decisive), "applied": True}
    elif decisive is not None and decisive.status == STALE:
        if result["decision"] != Decision.BLOCK:
            answer = {**result, "decision": Decision.HOLD_FOR_REVIEW.value}
        context = {**context_dict(decisive), "applied": False}
    elif pending is not None:
        context = {**context_dict(pending), "applied": False}
    item_queries.store_result(session, publisher=publisher, item_id=item_id, result=answer, source=source,
                              content=content, actor=actor, delivery_id=delivery_id, locked=locked,
                              overrides=rows if len(rows) < _OVERRIDES_READ else None)  # None: maybe not all of them
    if context is not None and context["applied"]:
        item = _get_item(session, publisher, item_id)
        current = item_queries.current_result(session, item)
        if current is not None and current.source == "override":
            answer = _result_as_contract(current, item_id)
    return answer, context


def _set_status(session: Session, row: Override, status: str, *, actor: str | None, action: str | None,
                extra: dict | None = None) -> None:
    before = {"override_id": row.id, "status": row.status}
    row.status = status
    session.add(row)
    session.flush()
    if action is not None:
        audit.record(session, action=action, actor=actor, publisher=row.publisher, item_id=row.item_id,
                     before=before, after={"override_id": row.id, "status": status, **(extra or {})})


def expire_due(session: Session, *, now: datetime | None = None, publisher: str | None = None,
               item_id: str | None = None, moderator=None, ps=None) -> int:
    """Mark open overrides past ``expires_at`` expired; with a ``moderator``, re-moderate items they held."""
    now = now or utcnow()
    query = select(Override).where(col(Override.status).in_(OPEN), col(Override.expires_at).is_not(None),
                                   col(Override.expires_at) <= now)
    if publisher is not None:
        query = query.where(Override.publisher == publisher)
    if item_id is not None:
        query = query.where(Override.item_id == item_id)
    rows = list(session.exec(query).all())
    for row in rows:
        was_current = row.status == ACTIVE and _is_current(session, row)
        _set_status(session, row, EXPIRED, actor="system", action=audit.OVERRIDE_EXPIRE)
        if was_current and moderator is not None:
            _remoderate(session, moderator, ps, row.publisher, row.item_id, reason="override_expired", actor="system")
    return len(rows)


def _is_current(session: Session, row: Override) -> bool:
    item = item_queries.get_item(session, publisher=row.publisher, item_id=row.item_id)
    return item is not None and row.result_id is not None and item.current_result_id == row.result_id


def _remoderate(session: Session, moderator, ps, publisher: str, item_id: str, *, reason: str, actor: str) -> None:
    """Make the automated result current again: the pipeline on the stored content, else the last automated result."""
    item = _get_item(session, publisher, item_id)
    content = get_content(session, item_pk=item.id, content_hash=item.content_hash)  # type: ignore[arg-type]
    if content is not None:
        result = moderator.moderate({**content, "publisher": publisher, "id": item_id}, policy_set=ps)
    else:
        query = (select(ModerationResultRow)
                 .where(ModerationResultRow.item_pk == item.id, ModerationResultRow.content_hash == item.content_hash,
                        ModerationResultRow.source != "override")
                 .order_by(col(ModerationResultRow.id).desc()))
        last = session.exec(query).first()
        if last is None:
            return
        result = _result_as_contract(last, item_id)
    record_decision_change(session, publisher, item_id, result, reason, source="rescan", actor=actor)


# ---------------------------------------------------------------- moderator actions


def _apply_changes(base: list[dict], req: OverrideRequest) -> list[dict]:
    """The labels after the moderator's changes; touched labels carry the ``override`` stage."""
    removed = set(req.labels_remove)
    labels = {lab["name"]: copy.deepcopy(lab) for lab in base if lab["name"] not in removed}
    for i, spec in enumerate(req.labels_set):
        name = spec["name"]
        if name in removed:
            raise ApiError(422, "validation_error", f"{name} is both set and removed", f"labels_set.{i}.name")
        lab = labels.get(name) or {"name": name, "evidence": [], "stages": []}
        lab["confidence"] = 1.0
        if name == LabelName.GRAPHIC_VIOLENCE:
            severity = spec.get("severity") or lab.get("severity")
            if severity not in (Severity.GRAPHIC, Severity.EXTREME):
                raise ApiError(422, "validation_error", "graphic_violence needs a severity: graphic or extreme",
                               f"labels_set.{i}.severity")
            lab["severity"] = severity
        elif spec.get("severity") is not None:
            raise ApiError(422, "validation_error", "only graphic_violence has a severity", f"labels_set.{i}.severity")
        if name == LabelName.EXTREMIST_SOURCE:
            lab["actors"] = list(spec.get("actors") if spec.get("actors") is not None else lab.get("actors") or [])
        elif spec.get("actors") is not None:
            raise ApiError(422, "validation_error", "only extremist_source has actors", f"labels_set.{i}.actors")
        lab["stages"] = [s for s in lab.get("stages", []) if s != "override"] + ["override"]
        labels[name] = lab
    return sorted(labels.values(), key=lambda lab: _LABEL_ORDER.index(lab["name"]) if lab["name"] in _LABEL_ORDER else 99)


def _override_result(session: Session, moderator, ps, item: Item, labels: list[dict], decision: str | None) -> dict:
    """Decision and disclaimers for the moderator's labels, derived from the item's stored content."""
    content = get_content(session, item_pk=item.id, content_hash=item.content_hash)  # type: ignore[arg-type]
    content = {**(content or {}), "publisher": item.publisher, "id": item.item_id}
    result = moderator.finish(content, build_document(content), labels, ps=ps, decision=decision)
    result["content_hash"] = item.content_hash
    result["item_id"] = item.item_id
    return result


def _check_expected(item: Item, req: OverrideRequest) -> None:
    if req.expected_content_hash is not None and req.expected_content_hash != item.content_hash:
        raise ApiError(409, "item_changed", "the item's content changed since you loaded it "
                       f"(now {item.content_hash[:12]}...); review the new version", "expected_content_hash")
    if req.expected_version is not None and req.expected_version != item.current_result_id:
        raise ApiError(409, "item_changed", f"the item changed since you loaded it (version {req.expected_version}, "
                       f"now {item.current_result_id}); review the new version", "expected_version")


def _check_claim(session: Session, item: Item, key: KeyInfo, now: datetime) -> None:
    from service.review import claim_holder

    claim = claim_holder(session, item, now=now)
    if claim is not None and claim.claimed_by != key.id:
        raise ApiError(409, "claimed", f"moderator key {claim.claimed_by} is working on this item until "
                       f"{claim.expires_at.isoformat()}", "item_id")


def create(session: Session, *, moderator, ps, key: KeyInfo, publisher: str, item_id: str, req: OverrideRequest,
           now: datetime | None = None) -> Override:
    """Record a moderator's override; it applies at once unless it lifts extremist_source (then pending)."""
    now = now or utcnow()
    policy = ps.policy_for(ps.publisher(publisher))
    if req.reason not in policy.reason_codes:
        raise ApiError(422, "validation_error", f"reason must be one of {list(policy.reason_codes)}", "reason")
    if req.decision is None and not req.labels_set and not req.labels_remove:
        raise ApiError(422, "validation_error", "give a decision, labels_set or labels_remove", "decision")
    if req.expires_at is not None and req.expires_at <= now:
        raise ApiError(422, "validation_error", "expires_at must lie in the future", "expires_at")
    item = _get_item(session, publisher, item_id)
    expire_due(session, now=now, publisher=publisher, item_id=item_id, moderator=moderator, ps=ps)
    _check_expected(item, req)
    _check_claim(session, item, key, now)
    current = item_queries.current_result(session, item)
    base = list(current.labels) if current is not None else []
    labels = _apply_changes(base, req)
    result = _override_result(session, moderator, ps, item, labels, req.decision)
    lifts = (any(lab["name"] == LabelName.EXTREMIST_SOURCE for lab in base)
             and not any(lab["name"] == LabelName.EXTREMIST_SOURCE for lab in labels))
    for row in overrides_of(session, publisher=publisher, item_id=item_id):
        if row.status == PENDING:
            _set_status(session, row, SUPERSEDED, actor=key.id, action=None)
    row = Override(publisher=publisher, item_id=item_id, content_hash=item.content_hash, decision=result["decision"],
                   labels=result["labels"], reason_code=req.reason, reason_text=req.note, status=PENDING,
                   expires_at=req.expires_at, created_by=key.id, requires_approval=lifts,
                   base_result_id=current.id if current is not None else None,
                   changes={"decision": req.decision, "labels_set": req.labels_set, "labels_remove": req.labels_remove})
    session.add(row)
    session.flush()
    if not lifts:
        _activate(session, row, result, actor=key.id, now=now)
    audit.record(session, action=audit.OVERRIDE_CREATE, actor=key.id, publisher=publisher, item_id=item_id,
                 before=_result_summary(current), after=override_dict(row))
    return row


def _activate(session: Session, row: Override, result: dict, *, actor: str, now: datetime) -> None:
    from service.review import release_claims

    for other in overrides_of(session, publisher=row.publisher, item_id=row.item_id):
        if other.id != row.id and other.status == ACTIVE:
            _set_status(session, other, SUPERSEDED, actor=actor, action=None)
    stored = record_decision_change(session, row.publisher, row.item_id, result, row.reason_code, source="override",
                                    actor=actor)
    row.status = ACTIVE
    row.result_id = stored.id
    session.add(row)
    session.flush()
    release_claims(session, item_pk=stored.item_pk)


def approve(session: Session, *, moderator, ps, key: KeyInfo, publisher: str, item_id: str, override_id: int,
            now: datetime | None = None) -> Override:
    """A second, different moderator approves a pending override; it applies now."""
    now = now or utcnow()
    item = _get_item(session, publisher, item_id)
    expire_due(session, now=now, publisher=publisher, item_id=item_id, moderator=moderator, ps=ps)
    row = _get_override(session, publisher, item_id, override_id)
    if row.status != PENDING:
        raise ApiError(409, "not_pending", f"override {override_id} is {row.status}, not pending", "override_id")
    if row.created_by == key.id:
        raise ApiError(403, "four_eyes_required", "lifting extremist_source needs the approval of a second, "
                       "different moderator", "authorization")
    if item.content_hash != row.content_hash:
        _set_status(session, row, STALE, actor=key.id, action=audit.OVERRIDE_STALE)
        raise ApiError(409, "item_changed", "the item's content changed since this override was requested", "override_id")
    before = override_dict(row)
    result = _override_result(session, moderator, ps, item, list(row.labels), (row.changes or {}).get("decision"))
    row.approved_by, row.approved_at = key.id, now
    _activate(session, row, result, actor=key.id, now=now)
    audit.record(session, action=audit.OVERRIDE_APPROVE, actor=key.id, publisher=publisher, item_id=item_id,
                 before=before, after=override_dict(row))
    return row


def withdraw(session: Session, *, moderator, ps, key: KeyInfo, publisher: str, item_id: str,
             override_id: int | None = None, now: datetime | None = None) -> Override:
    """Withdraw an override (the newest open or stale one by default); the automated result returns."""
    now = now or utcnow()
    _get_item(session, publisher, item_id)
    if override_id is None:
        row = next((r for r in overrides_of(session, publisher=publisher, item_id=item_id)
                    if r.status in (*OPEN, STALE)), None)
        if row is None:
            raise ApiError(404, "override_not_found", f"item {item_id!r} has no override to withdraw", "item_id")
    else:
        row = _get_override(session, publisher, item_id, override_id)
    if row.status not in (*OPEN, STALE):
        raise ApiError(409, "not_withdrawable", f"override {row.id} is already {row.status}", "override_id")
    before = override_dict(row)
    held_item = (row.status == ACTIVE and _is_current(session, row)) or row.status == STALE
    row.status, row.withdrawn_at, row.withdrawn_by = WITHDRAWN, now, key.id
    session.add(row)
    session.flush()
    if held_item:
        _remoderate(session, moderator, ps, publisher, item_id, reason="override_withdrawn", actor=key.id)
    audit.record(session, action=audit.OVERRIDE_WITHDRAW, actor=key.id, publisher=publisher, item_id=item_id,
                 before=before, after=override_dict(row))
    return row


def _get_override(session: Session, publisher: str, item_id: str, override_id: int) -> Override:
    row = session.get(Override, override_id)
    if row is None or row.publisher != publisher or row.item_id != item_id:
        raise ApiError(404, "override_not_found", f"no override {override_id} for item {item_id!r}", "override_id")
    return row


def _result_summary(row: ModerationResultRow | None) -> dict | None:
    if row is None:
        return None
    return {"result_id": row.id, "source": row.source, "decision": row.decision, "content_hash": row.content_hash,
            "labels": audit.label_summary(row.labels)}
