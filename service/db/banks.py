"""Hash-bank queries: banks, entries, entry hits (flood control) and stored media hashes.

Each function works inside the caller's session (one transaction) and never commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from service.db.bank_models import HashBank, HashBankEntry, HashEntryHit, ItemMedia
from service.db.models import Item, ModerationResultRow, utcnow

# -- banks ---------------------------------------------------------------------------------


def get_bank(session: Session, name: str) -> HashBank | None:
    return session.exec(select(HashBank).where(HashBank.name == name)).first()


def list_banks(session: Session, *, publisher: str | None = None) -> list[HashBank]:
    query = select(HashBank).order_by(col(HashBank.name))
    if publisher is not None:
        query = query.where(col(HashBank.publisher) == publisher)
    return list(session.exec(query).all())


def entry_counts(session: Session) -> dict[int, dict[str, int]]:
    """bank id -> {status: number of entries}."""
    rows = session.exec(select(HashBankEntry.bank_id, HashBankEntry.status, func.count())
                        .group_by(HashBankEntry.bank_id, HashBankEntry.status)).all()
    counts: dict[int, dict[str, int]] = {}
    for bank_id, status, n in rows:
        counts.setdefault(bank_id, {})[status] = n
    return counts


# -- entries -------------------------------------------------------------------------------


def entries_by_pdq(session: Session, bank_id: int, pdqs: list[str]) -> dict[str, HashBankEntry]:
    """This bank's entries with these hashes (looked up by hash alone: the unique index leads with it)."""
    found: dict[str, HashBankEntry] = {}
    for start in range(0, len(pdqs), 500):
        rows = session.exec(select(HashBankEntry).where(col(HashBankEntry.pdq).in_(pdqs[start:start + 500])))
        found.update((row.pdq, row) for row in rows if row.bank_id == bank_id)
    return found


def list_entries(session: Session, bank_id: int | None, *, status: str | None = None, after_id: int = 0,
                 limit: int = 100) -> list[HashBankEntry]:
    """Entries by id (keyset pagination with ``after_id``), of one bank or of all."""
    query = select(HashBankEntry).where(col(HashBankEntry.id) > after_id)
    if bank_id is not None:
        query = query.where(HashBankEntry.bank_id == bank_id)
    if status is not None:
        query = query.where(HashBankEntry.status == status)
    return list(session.exec(query.order_by(col(HashBankEntry.id)).limit(limit)).all())


# The columns a matcher needs (plain rows: far cheaper than ORM objects for a million entries).
_MATCH_COLUMNS = (HashBankEntry.id, HashBankEntry.bank_id, HashBankEntry.pdq, HashBankEntry.label, HashBankEntry.severity,
                  HashBankEntry.actors, HashBankEntry.action, HashBankEntry.status, HashBankEntry.updated_at,
                  HashBankEntry.variants)


def match_rows_page(session: Session, *, after_id: int = 0, limit: int = 50_000) -> list:
    """Every entry's matching columns, by id after ``after_id`` (a matcher's cold load)."""
    query = select(*_MATCH_COLUMNS).where(col(HashBankEntry.id) > after_id).order_by(col(HashBankEntry.id)).limit(limit)
    return list(session.connection().execute(query).all())


def match_rows(session: Session, ids: list[int]) -> list:
    """The matching columns of these entries."""
    rows: list = []
    for start in range(0, len(ids), 1000):
        query = select(*_MATCH_COLUMNS).where(col(HashBankEntry.id).in_(ids[start:start + 1000]))
        rows.extend(session.connection().execute(query).all())
    return rows


def versions_since(session: Session, since: datetime, *, after_id: int = 0, limit: int = 50_000) -> list[tuple[int, datetime]]:
    """(id, updated_at) of the entries updated at or after ``since``, by id (a matcher's refresh)."""
    query = (select(HashBankEntry.id, HashBankEntry.updated_at)
             .where(col(HashBankEntry.updated_at) >= since, col(HashBankEntry.id) > after_id)
             .order_by(col(HashBankEntry.id)).limit(limit))
    return [(int(i), ts) for i, ts in session.connection().execute(query).all()]


def insert_new_entries(session: Session, rows: list[dict]) -> dict[str, int]:
    """Insert entries (column dicts of one bank) in bulk, skipping hashes the bank has; {pdq: new id}.

    On PostgreSQL a large insert is followed by ANALYZE, so that lookups by hash use
    the unique index at once instead of waiting for autovacuum.
    """
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = HashBankEntry.__table__  # type: ignore[attr-defined]
    stmt = insert(table).on_conflict_do_nothing(index_elements=["pdq", "bank_id"]).returning(table.c.id, table.c.pdq)
    inserted = {pdq: int(i) for i, pdq in session.connection().execute(stmt, rows)}
    if dialect == "postgresql" and len(inserted) >= 1000:
        session.connection().exec_driver_sql("ANALYZE hash_bank_entries")
    return inserted


def set_status(session: Session, entry: HashBankEntry, status: str, reason: str | None) -> None:
    entry.status = status
    entry.status_reason = reason
    entry.updated_at = utcnow()
    session.add(entry)


# -- hits and flood control ----------------------------------------------------------------


def record_hit(session: Session, *, entry_id: int, publisher: str, item_id: str) -> None:
    """Note that ``entry_id`` matched this item now (insert, or move ``last_seen_at``)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = insert(HashEntryHit).values(entry_id=entry_id, publisher=publisher, item_id=item_id,
                                       first_seen_at=now, last_seen_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["entry_id", "publisher", "item_id"], set_={"last_seen_at": now})
    session.exec(stmt)  # type: ignore[call-overload]


def distinct_hits_since(session: Session, entry_id: int, since: datetime) -> int:
    query = select(func.count()).select_from(HashEntryHit).where(
        HashEntryHit.entry_id == entry_id, col(HashEntryHit.last_seen_at) >= since)
    return int(session.exec(query).one())


def hit_item_pks(session: Session, entry_id: int, *, since: datetime | None = None) -> list[int]:
    """Primary keys of the stored items this entry has matched (since ``since``); ad-hoc calls have none."""
    query = (select(Item.id).join(HashEntryHit, (col(HashEntryHit.publisher) == col(Item.publisher))
                                  & (col(HashEntryHit.item_id) == col(Item.item_id)))
             .where(HashEntryHit.entry_id == entry_id))
    if since is not None:
        query = query.where(col(HashEntryHit.last_seen_at) >= since)
    return [int(pk) for pk in session.exec(query).all()]


def lock_entry(session: Session, entry_id: int) -> HashBankEntry | None:
    """The entry, locked for this transaction on PostgreSQL (SQLite transactions are serialised)."""
    query = select(HashBankEntry).where(HashBankEntry.id == entry_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).first()


def window_start(seconds: int) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


# -- stored media hashes (retroactive matching) --------------------------------------------


_DELETE_ITEM_MEDIA = delete(ItemMedia).where(col(ItemMedia.item_pk) == bindparam("item_pk"))  # built once


def store_item_media(session: Session, *, item_pk: int, content_hash: str, media: list[dict] | None,
                     replace: bool = True) -> None:
    """Replace the item's stored media hashes with those of its latest content (``replace=False``: it has none yet)."""
    if replace:
        session.connection().execute(_DELETE_ITEM_MEDIA, {"item_pk": item_pk})
    seen = set()
    now = utcnow()
    for position, m in enumerate(media or []):
        pdq = m.get("pdq")
        media_id = m.get("id") or f"media-{position}"
        if not pdq or media_id in seen:
            continue
        seen.add(media_id)
        session.add(ItemMedia(item_pk=item_pk, media_id=media_id, position=position, pdq=pdq.lower(),
                              content_hash=content_hash, updated_at=now))


def item_media_page(session: Session, *, publisher: str | None, after_id: int = 0, limit: int = 20_000) -> list:
    """Stored media hashes of items' current content (one publisher's, or all), by id after ``after_id``.

    Plain rows: ``id, media_id, position, pdq, item_pk, publisher, item_id``.
    """
    query = (select(ItemMedia.id, ItemMedia.media_id, ItemMedia.position, ItemMedia.pdq, ItemMedia.item_pk,
                    Item.publisher, Item.item_id)
             .join(Item, col(Item.id) == ItemMedia.item_pk)
             .where(col(ItemMedia.id) > after_id, col(ItemMedia.content_hash) == col(Item.content_hash)))
    if publisher is not None:
        query = query.where(Item.publisher == publisher)
    return list(session.connection().execute(query.order_by(col(ItemMedia.id)).limit(limit)).all())


def current_source(session: Session, item: Item) -> str | None:
    if item.current_result_id is None:
        return None
    row = session.get(ModerationResultRow, item.current_result_id)
    return row.source if row is not None else None


def clear_hits(session: Session, entry_id: int) -> None:
    """Forget an entry's hits (a reviewed entry starts its flood count afresh)."""
    session.exec(delete(HashEntryHit).where(col(HashEntryHit.entry_id) == entry_id))  # type: ignore[call-overload]
