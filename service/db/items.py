"""Items and their results: store a result as an item's current decision, read its history.

Each function works inside the caller's session (one transaction per request) and
never commits.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from service.db import audit
from service.db.contents import save_content
from service.db.banks import store_item_media
from service.db.models import SOURCES, Item, ModerationResultRow, Override, utcnow


def lock_item(session: Session, *, publisher: str, item_id: str, content_hash: str, decision: str) -> tuple[Item, bool]:
    """The item row, created when absent, locked for this transaction; (item, created)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = insert(Item).values(
        publisher=publisher, item_id=item_id, content_hash=content_hash, decision=decision, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["publisher", "item_id"])
    created = session.exec(stmt).rowcount == 1  # type: ignore[call-overload]
    query = select(Item).where(Item.publisher == publisher, Item.item_id == item_id)
    if dialect == "postgresql":
        query = query.with_for_update()
    item = session.exec(query.execution_options(populate_existing=True)).one()
    return item, created


def store_result(
    session: Session,
    *,
    publisher: str,
    item_id: str,
    result: dict,
    source: str,
    reason: str | None = None,
    delivery_id: int | None = None,
    content: dict | None = None,
    actor: str | None = None,
) -> tuple[ModerationResultRow, str | None]:
    """Add ``result`` to the item's history and make it current; (row, previous decision or None).

    A moderator's override stays current over later api/webhook/rescan results for
    the same content hash (labels policy: it wins until the item's content changes).
    ``content`` (the item moderated) is kept per content hash; every stored result
    is also an audit event by ``actor``.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    item, created = lock_item(session, publisher=publisher, item_id=item_id,
                              content_hash=result["content_hash"], decision=result["decision"])
    previous = None if created or item.current_result_id is None else item.decision
    row = ModerationResultRow(
        item_pk=item.id,  # type: ignore[arg-type]
        content_hash=result["content_hash"],
        decision=result["decision"],
        labels=result.get("labels") or [],
        disclaimers=result.get("disclaimers") or [],
        policy_version=result.get("policy_version", ""),
        model_version=result.get("model_version", ""),
        source=source,
        reason=reason,
        delivery_id=delivery_id,
    )
    session.add(row)
    session.flush()
    if content is not None:
        save_content(session, item_pk=item.id, content_hash=row.content_hash, content=content)  # type: ignore[arg-type]
        # Hash banks: the media hashes of the current content, for retroactive matching.
        store_item_media(session, item_pk=item.id, content_hash=row.content_hash, media=content.get("media"))  # type: ignore[arg-type]
    before = None if previous is None else {"result_id": item.current_result_id, "decision": item.decision,
                                            "content_hash": item.content_hash}
    stands = source != "override" and _override_stands(session, item, row.content_hash)
    if not stands:
        if item.decision != row.decision or item.decision_since is None:
            item.decision_since = row.created_at
        item.content_hash = row.content_hash
        item.decision = row.decision
        item.current_result_id = row.id
        item.updated_at = row.created_at
        session.add(item)
        session.flush()
    audit.record(session, action=audit.RESULT, actor=actor, publisher=publisher, item_id=item_id, before=before,
                 after={"result_id": row.id, "source": source, "reason": reason, "decision": row.decision,
                        "content_hash": row.content_hash, "labels": audit.label_summary(row.labels), "current": not stands})
    return row, previous  # when ``stands``: kept in the history; the moderator's decision stays current


def _override_stands(session: Session, item: Item, content_hash: str) -> bool:
    """The current result is a moderator's override of this very content (it wins until the content changes)."""
    if item.current_result_id is None or item.content_hash != content_hash:
        return False
    current = session.get(ModerationResultRow, item.current_result_id)
    if current is None or current.source != "override":
        return False
    # An override recorded through service.overrides stands while it is active and unexpired.
    owner = session.exec(select(Override).where(Override.publisher == item.publisher, Override.item_id == item.item_id,
                                                Override.result_id == current.id)).first()
    if owner is None:
        return True
    return owner.status == "active" and (owner.expires_at is None or owner.expires_at > utcnow())


def get_item(session: Session, *, publisher: str, item_id: str) -> Item | None:
    return session.exec(select(Item).where(Item.publisher == publisher, Item.item_id == item_id)).first()


def current_result(session: Session, item: Item) -> ModerationResultRow | None:
    if item.current_result_id is None:
        return None
    return session.get(ModerationResultRow, item.current_result_id)


def history(session: Session, item: Item, *, limit: int = 100) -> list[ModerationResultRow]:
    """The item's results, newest first."""
    query = (select(ModerationResultRow).where(ModerationResultRow.item_pk == item.id)
             .order_by(col(ModerationResultRow.created_at).desc(), col(ModerationResultRow.id).desc()).limit(limit))
    return list(session.exec(query).all())


def result_dict(row: ModerationResultRow, item: Item) -> dict:
    """A stored result in the shape of the public contract, plus where it came from."""
    return {
        "result_id": row.id,
        "item_id": item.item_id,
        "content_hash": row.content_hash,
        "decision": row.decision,
        "labels": row.labels,
        "disclaimers": row.disclaimers,
        "policy_version": row.policy_version,
        "model_version": row.model_version,
        "source": row.source,
        "reason": row.reason,
        "created_at": row.created_at.isoformat(),
    }
