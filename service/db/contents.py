"""Item contents by content hash: stored with each api/webhook result, read by overrides and the moderator page."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from service.db.moderation_models import ItemContent
from service.db.models import utcnow


def _insert_statement(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(ItemContent.__table__).on_conflict_do_nothing(index_elements=["item_pk", "content_hash"])  # type: ignore[attr-defined]


# Built once: building a statement costs more than running it.
_INSERT = {name: _insert_statement(name) for name in ("postgresql", "sqlite")}
_KNOWN = select(ItemContent.id).where(ItemContent.item_pk == bindparam("item_pk"),
                                      ItemContent.content_hash == bindparam("content_hash")).limit(1)


def save_content(session: Session, *, item_pk: int, content_hash: str, content: dict, check_first: bool = True) -> None:
    """Keep ``content`` for (item, hash) unless already kept (the same hash means the same content).

    ``check_first``: look before inserting (worth it when the content is probably kept, as for
    a re-sent item: the body is not shipped to the database again); else insert at once.
    """
    conn = session.connection()
    if check_first and conn.execute(_KNOWN, {"item_pk": item_pk, "content_hash": content_hash}).first() is not None:
        return  # the usual case for a re-sent item: no need to ship the body to the database again
    title = content.get("title")
    conn.execute(_INSERT[conn.dialect.name], {
        "item_pk": item_pk, "content_hash": content_hash, "title": title if isinstance(title, str) else None,
        "content": content, "created_at": utcnow()})


def get_content(session: Session, *, item_pk: int, content_hash: str) -> dict | None:
    row = session.exec(select(ItemContent).where(ItemContent.item_pk == item_pk,
                                                 ItemContent.content_hash == content_hash)).first()
    return dict(row.content) if row is not None else None


def titles(session: Session, pairs: list[tuple[int, str]]) -> dict[tuple[int, str], str | None]:
    """Titles of several (item_pk, content_hash) pairs, without loading the bodies."""
    if not pairs:
        return {}
    pks = sorted({pk for pk, _ in pairs})
    query = select(ItemContent.item_pk, ItemContent.content_hash, ItemContent.title).where(
        ItemContent.item_pk.in_(pks))  # type: ignore[attr-defined]
    wanted = set(pairs)
    return {(pk, h): t for pk, h, t in session.exec(query).all() if (pk, h) in wanted}
