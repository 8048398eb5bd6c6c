"""The review queue: items held for review, oldest first, and claims so two moderators don't work one item.

A claim lasts ``settings.review_claim_seconds`` (renewed by claiming again); after
that anyone may claim the item. Applying an override releases the item.

Hash-bank entries quarantined pending review (flood control, or by hand) are
listed beside the items (``quarantined_entries``): while one waits, the items it
blocked are held for review instead (``service.bank_retro.release_entry``).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import orjson
from sqlalchemy import and_, delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from service.auth import KeyInfo
from service.db import audit
from service.db import items as item_queries
from service.db.bank_models import HashBank, HashBankEntry
from service.db.contents import titles
from service.db.models import AuditEvent, Item, ModerationResultRow, Override, utcnow
from service.db.moderation_models import ReviewClaim
from service.errors import ApiError

HOLD = "hold_for_review"


# ---------------------------------------------------------------- claims


def claim_holder(session: Session, item: Item, *, now: datetime | None = None) -> ReviewClaim | None:
    """The unexpired claim on ``item``, if any."""
    now = now or utcnow()
    row = session.exec(select(ReviewClaim).where(ReviewClaim.item_pk == item.id)).first()
    return row if row is not None and row.expires_at > now else None


def claim(session: Session, *, key: KeyInfo, publisher: str, item_id: str, seconds: int,
          now: datetime | None = None) -> ReviewClaim:
    """Claim (or renew) an item for ``key``; 409 while another moderator's claim runs."""
    now = now or utcnow()
    item = _item(session, publisher, item_id)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    until = now + timedelta(seconds=seconds)
    session.exec(insert(ReviewClaim).values(item_pk=item.id, claimed_by=key.id, claimed_at=now, expires_at=until)
                 .on_conflict_do_nothing(index_elements=["item_pk"]))  # type: ignore[call-overload]
    query = select(ReviewClaim).where(ReviewClaim.item_pk == item.id)
    if dialect == "postgresql":
        query = query.with_for_update()
    row = session.exec(query.execution_options(populate_existing=True)).one()
    if row.claimed_by != key.id:
        if row.expires_at > now:
            raise ApiError(409, "claimed", f"moderator key {row.claimed_by} is working on this item until "
                           f"{row.expires_at.isoformat()}", "item_id")
        row.claimed_by, row.claimed_at = key.id, now  # the previous claim lapsed
    row.expires_at = until
    session.add(row)
    session.flush()
    audit.record(session, action=audit.REVIEW_CLAIM, actor=key.id, publisher=publisher, item_id=item_id,
                 after={"expires_at": row.expires_at.isoformat()})
    return row


def release(session: Session, *, key: KeyInfo, publisher: str, item_id: str, now: datetime | None = None) -> bool:
    """Give an item back; only its claimant (or an admin) may. False when nobody held it."""
    now = now or utcnow()
    item = _item(session, publisher, item_id)
    row = claim_holder(session, item, now=now)
    if row is None:
        return False
    if row.claimed_by != key.id and key.role != "admin":
        raise ApiError(409, "claimed", f"moderator key {row.claimed_by} holds this item; only they or an admin "
                       "may release it", "item_id")
    session.exec(delete(ReviewClaim).where(col(ReviewClaim.id) == row.id))  # type: ignore[call-overload]
    audit.record(session, action=audit.REVIEW_RELEASE, actor=key.id, publisher=publisher, item_id=item_id,
                 before={"claimed_by": row.claimed_by})
    return True


def release_claims(session: Session, *, item_pk: int) -> None:
    """Drop any claim on an item (its moderator decided)."""
    session.exec(delete(ReviewClaim).where(col(ReviewClaim.item_pk) == item_pk))  # type: ignore[call-overload]


def claim_dict(row: ReviewClaim | None) -> dict | None:
    if row is None:
        return None
    return {"claimed_by": row.claimed_by, "claimed_at": row.claimed_at.isoformat(), "expires_at": row.expires_at.isoformat()}


def _item(session: Session, publisher: str, item_id: str) -> Item:
    item = item_queries.get_item(session, publisher=publisher, item_id=item_id)
    if item is None:
        raise ApiError(404, "item_not_found", f"no stored result for item {item_id!r} of publisher {publisher!r}", "item_id")
    return item


# ---------------------------------------------------------------- the queue


def _encode(item: Item) -> str:
    since = (item.decision_since or item.updated_at).isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([since, item.id])).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        since, pk = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        since, pk = datetime.fromisoformat(since), int(pk)
        if since.tzinfo is None or not 0 <= pk <= 2**53 - 1:  # a forged cursor: no 500 from the comparison or the database
            raise ValueError(cursor)
        return since, pk
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise ApiError(422, "validation_error", "cursor is not one this service returned", "cursor") from None


def queue(session: Session, *, publisher: str | None = None, label: str | None = None, limit: int = 50,
          cursor: str | None = None, now: datetime | None = None) -> tuple[list[dict], str | None]:
    """Items whose current decision is hold_for_review, oldest first; (entries, next cursor or None)."""
    now = now or utcnow()
    after = _decode(cursor) if cursor else None
    picked: list[tuple[Item, ModerationResultRow | None]] = []
    chunk = max(limit + 1, 100)
    while len(picked) <= limit:
        query = (select(Item, ModerationResultRow)
                 .join(ModerationResultRow, col(ModerationResultRow.id) == col(Item.current_result_id), isouter=True)
                 .where(Item.decision == HOLD))
        if publisher is not None:
            query = query.where(Item.publisher == publisher)
        if after is not None:
            since, pk = after
            query = query.where(or_(col(Item.decision_since) > since,
                                    and_(col(Item.decision_since) == since, col(Item.id) > pk)))
        rows = session.exec(query.order_by(col(Item.decision_since), col(Item.id)).limit(chunk)).all()
        for item, result in rows:
            after = (item.decision_since or item.updated_at, item.id)  # type: ignore[assignment]
            if label and not any(lab.get("name") == label for lab in (result.labels if result else [])):
                continue
            picked.append((item, result))
            if len(picked) > limit:
                break
        if len(rows) < chunk:
            break
    more = len(picked) > limit
    picked = picked[:limit]
    return _entries(session, picked, now), (_encode(picked[-1][0]) if more and picked else None)


def _entries(session: Session, picked: list[tuple[Item, ModerationResultRow | None]], now: datetime) -> list[dict]:
    pks = [item.id for item, _ in picked]
    claims = {c.item_pk: c for c in session.exec(select(ReviewClaim).where(col(ReviewClaim.item_pk).in_(pks))).all()
              if c.expires_at > now} if pks else {}
    names = titles(session, [(item.id, item.content_hash) for item, _ in picked])  # type: ignore[misc]
    stale: dict[tuple[str, str], Override] = {}
    if picked:
        query = select(Override).where(Override.status == "stale",
                                       col(Override.item_id).in_({item.item_id for item, _ in picked}))
        for row in session.exec(query.order_by(col(Override.id))).all():
            stale[(row.publisher, row.item_id)] = row
    out = []
    for item, result in picked:
        previous = stale.get((item.publisher, item.item_id))
        out.append({
            "publisher": item.publisher, "item_id": item.item_id, "title": names.get((item.id, item.content_hash)),
            "content_hash": item.content_hash, "version": item.current_result_id, "decision": item.decision,
            "held_since": (item.decision_since or item.updated_at).isoformat(),
            "labels": audit.label_summary(result.labels if result else []),
            "claim": claim_dict(claims.get(item.id)),
            "previous_override": None if previous is None else {
                "id": previous.id, "decision": previous.decision, "reason": previous.reason_code,
                "created_by": previous.created_by, "status": previous.status},
        })
    return out


# ---------------------------------------------------------------- quarantined hash-bank entries

QUARANTINE_EVENTS_READ = 2_000  # latest bank.entry_quarantine audit events consulted for match counts


def quarantined_entries(session: Session, *, publisher: str | None = None, limit: int = 50) -> list[dict]:
    """Hash-bank entries waiting for review, newest first: global banks' and ``publisher``'s (all when None).

    ``matches`` and ``window_seconds`` come from the flood quarantine's audit event
    (null for an entry quarantined by hand or by a retroactive scan's count).
    """
    query = (select(HashBankEntry, HashBank).join(HashBank, col(HashBank.id) == col(HashBankEntry.bank_id))
             .where(HashBankEntry.status == "quarantined"))
    if publisher is not None:
        query = query.where(or_(col(HashBank.publisher).is_(None), HashBank.publisher == publisher))
    rows = session.exec(query.order_by(col(HashBankEntry.updated_at).desc(), col(HashBankEntry.id).desc())
                        .limit(limit)).all()
    if not rows:
        return []
    wanted = {entry.id for entry, _ in rows}
    floods: dict[int, dict] = {}
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "bank.entry_quarantine")
                          .order_by(col(AuditEvent.id).desc()).limit(QUARANTINE_EVENTS_READ)).all()
    for event in events:
        after = event.after if isinstance(event.after, dict) else {}
        entry_id = after.get("entry_id")
        if entry_id in wanted and entry_id not in floods:
            floods[entry_id] = after
    out = []
    for entry, bank in rows:
        flood = floods.get(entry.id) or {}
        out.append({
            "bank": bank.name, "bank_publisher": bank.publisher, "entry_id": entry.id, "label": entry.label,
            "severity": entry.severity, "actors": list(entry.actors or ()), "action": entry.action,
            "matches": flood.get("distinct_items"), "threshold": flood.get("threshold", bank.flood_threshold),
            "window_seconds": flood.get("window_seconds", bank.flood_window_seconds) if flood else None,
            "quarantined_at": entry.updated_at.isoformat(), "reason": entry.status_reason,
        })
    return out
