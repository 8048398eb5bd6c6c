"""Items and their results: store a result as an item's current decision, read its history.

Each function works inside the caller's session (one transaction per request) and
never commits.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from service.db import audit
from service.db.contents import save_content
from service.db.banks import store_item_media
from service.db.models import SOURCES, Item, ModerationResultRow, Override, UtcDateTime, utcnow


def _upsert_item_statement(dialect: str):
    """``INSERT .. ON CONFLICT (publisher, item_id) DO UPDATE (a no-op) .. RETURNING`` the whole row."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(_ITEMS).values(
        publisher=bindparam("publisher"), item_id=bindparam("item_id"), content_hash=bindparam("content_hash"),
        decision=bindparam("decision"), updated_at=bindparam("updated_at", type_=UtcDateTime),
    )
    return stmt.on_conflict_do_update(index_elements=["publisher", "item_id"],
                                      set_={"publisher": stmt.excluded.publisher}).returning(*_ITEMS.c)


# Statements are built once (per dialect): building one costs more than executing it. The hot paths below
# run them on the session's connection and keep the session's ORM objects in step by hand, which costs a
# fraction of what ORM loading and flushing do for one row.
_ITEMS = Item.__table__  # type: ignore[attr-defined]
_ITEM_KEYS = tuple(column.key for column in _ITEMS.c)
_UPSERT_ITEM = {name: _upsert_item_statement(name) for name in ("postgresql", "sqlite")}
_INSERT_RESULT = insert(ModerationResultRow.__table__)  # type: ignore[attr-defined]
_UPDATE_ITEM = update(_ITEMS).where(_ITEMS.c.id == bindparam("item_pk"))
_CURRENT_SOURCE = select(ModerationResultRow.source).where(ModerationResultRow.id == bindparam("result_id"))


def _as_loaded(session: Session, cls, values: dict, existing=None):
    """``existing`` (else a new ``cls``) holding ``values`` as if just loaded, and in ``session``."""
    obj = existing if existing is not None else cls._sa_class_manager.new_instance()
    for key, value in values.items():
        set_committed_value(obj, key, value)
    if existing is None:
        make_transient_to_detached(obj)
        session.add(obj)
    return obj


def lock_item(session: Session, *, publisher: str, item_id: str, content_hash: str, decision: str) -> tuple[Item, bool]:
    """The item row, created when absent, locked for this transaction; (item, new: no result stored for it yet).

    One statement on both backends: ``INSERT .. ON CONFLICT DO UPDATE .. RETURNING``. On
    PostgreSQL the no-op update takes the row lock a ``SELECT .. FOR UPDATE`` took before
    (and waits for a transaction holding it); SQLite transactions are serialised anyway.
    Every stored item has a current result (``store_result`` sets it in the transaction
    that creates the row), so "no current result" means the row was created just now and
    nothing (overrides, contents, media) can refer to it yet. The session's ``Item`` for the
    row, if it has one, is refreshed from it.
    """
    session.flush()  # what the caller left pending goes first, as an ORM query would have it
    conn = session.connection()
    row = conn.execute(_UPSERT_ITEM[conn.dialect.name], {
        "publisher": publisher, "item_id": item_id, "content_hash": content_hash, "decision": decision,
        "updated_at": utcnow()}).one()
    values = dict(zip(_ITEM_KEYS, row))
    item = _as_loaded(session, Item, values, session.identity_map.get(identity_key(Item, (values["id"],))))
    return item, item.current_result_id is None


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
    locked: tuple[Item, bool] | None = None,
    overrides: list[Override] | None = None,
) -> tuple[ModerationResultRow, str | None]:
    """Add ``result`` to the item's history and make it current; (row, previous decision or None).

    A moderator's override stays current over later api/webhook/rescan results for
    the same content hash (labels policy: it wins until the item's content changes).
    ``content`` (the item moderated) is kept per content hash; every stored result
    is also an audit event by ``actor``.

    ``locked`` is what the caller's ``lock_item`` returned in this transaction (the item is
    then not locked again); ``overrides`` is every override of the item, when the caller
    has read them all (``service.overrides.store_automated``), so they are not read again.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if locked is None:
        locked = lock_item(session, publisher=publisher, item_id=item_id,
                           content_hash=result["content_hash"], decision=result["decision"])
    item, created = locked
    previous = None if created or item.current_result_id is None else item.decision
    # Anything the caller left pending (an override's new status, its audit event) is written first, as before.
    session.flush()
    # Core statements (above), not the ORM's unit of work: an ORM flush costs several times in Python what
    # SQLite or PostgreSQL spend on these rows. The session's objects are kept in step by hand.
    now = utcnow()
    values = {
        "item_pk": item.id, "content_hash": result["content_hash"], "decision": result["decision"],
        "labels": result.get("labels") or [], "disclaimers": result.get("disclaimers") or [],
        "policy_version": result.get("policy_version", ""), "model_version": result.get("model_version", ""),
        "source": source, "reason": reason, "delivery_id": delivery_id, "created_at": now,
    }
    conn = session.connection()
    values["id"] = conn.execute(_INSERT_RESULT, values).inserted_primary_key[0]
    row = _as_loaded(session, ModerationResultRow, values)  # the session's object for it: no second INSERT
    if content is not None:
        # Kept unless already kept: only content the item has now can be, so other content is inserted directly.
        save_content(session, item_pk=item.id, content_hash=row.content_hash, content=content,  # type: ignore[arg-type]
                     check_first=not created and item.content_hash == row.content_hash)
        # Hash banks: the media hashes of the current content, for retroactive matching.
        store_item_media(session, item_pk=item.id, content_hash=row.content_hash, media=content.get("media"),  # type: ignore[arg-type]
                         replace=not created)
    before = None if previous is None else {"result_id": item.current_result_id, "decision": item.decision,
                                            "content_hash": item.content_hash}
    stands = source != "override" and _override_stands(session, item, row.content_hash, overrides)
    if not stands:
        changes = {"content_hash": row.content_hash, "decision": row.decision, "current_result_id": row.id,
                   "updated_at": row.created_at}
        if item.decision != row.decision or item.decision_since is None:
            changes["decision_since"] = row.created_at
        conn.execute(_UPDATE_ITEM, {"item_pk": item.id, **changes})
        for key, value in changes.items():
            set_committed_value(item, key, value)  # the session's Item as the database now has it
    audit.append(session, action=audit.RESULT, actor=actor, publisher=publisher, item_id=item_id, before=before,
                 after={"result_id": row.id, "source": source, "reason": reason, "decision": row.decision,
                        "content_hash": row.content_hash, "labels": audit.label_summary(row.labels), "current": not stands})
    return row, previous  # when ``stands``: kept in the history; the moderator's decision stays current


def _override_stands(session: Session, item: Item, content_hash: str, overrides: list[Override] | None = None) -> bool:
    """The current result is a moderator's override of this very content (it wins until the content changes)."""
    if item.current_result_id is None or item.content_hash != content_hash:
        return False
    current_id = item.current_result_id
    # Only its source matters: the row's labels and disclaimers (JSON) are not loaded for it.
    source = session.connection().execute(_CURRENT_SOURCE, {"result_id": current_id}).scalar()
    if source != "override":
        return False
    # An override recorded through service.overrides stands while it is active and unexpired.
    if overrides is not None:  # every override of the item, already read in this transaction
        owner = next((o for o in overrides if o.result_id == current_id), None)
    else:
        owner = session.exec(select(Override).where(Override.publisher == item.publisher, Override.item_id == item.item_id,
                                                    Override.result_id == current_id)).first()
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
