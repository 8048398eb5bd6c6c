"""Hash banks in a running service: the matcher the Moderator calls, kept in sync with the database.

``HashBanks`` owns one :class:`BankMatcher` (one HashIndex per bank, active
entries only). Changes made through this process (admin API, flood quarantine)
are applied to it as soon as their transaction commits; changes made by other
processes are picked up by :meth:`HashBanks.refresh`, which reads the entries
updated since its last look (``bank_refresh_seconds``; routes call it when stale).

Bank hygiene lives here too:

* flood control (:meth:`HashBanks.account`): every match of a stored item is
  recorded as a hit; an entry whose distinct items within the bank's window
  exceed its ``flood_threshold`` is quarantined (audit event
  ``bank.entry_quarantine``) and the item is moderated again without it;
* retroactive matching (``service.bank_retro``) when entries are added.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from classifiers.hashing.matcher import BankInfo, BankMatcher, EntryInfo, parse_evidence_source
from service.bank_schemas import BankCreate, BankUpdate, EntryCreate, EntryError, EntryUpdate, check_entry
from service.db import audit
from service.db import banks as q
from service.db.bank_models import HashBank, HashBankEntry
from service.db.models import utcnow
from service.errors import ApiError

log = logging.getLogger("modlabel.banks")

# Changes are re-read this far back, so a transaction that committed late is not missed.
REFRESH_OVERLAP = timedelta(seconds=120)
LISTED = 100  # entries listed in an "added" answer


def bank_info(bank: HashBank) -> BankInfo:
    return BankInfo(bank.id, bank.name, bank.publisher, bank.kind, bank.distance)  # type: ignore[arg-type]


def entry_info(entry: HashBankEntry) -> EntryInfo:
    return EntryInfo(entry.id, entry.bank_id, entry.pdq, entry.label, entry.severity, tuple(entry.actors or ()),  # type: ignore[arg-type]
                     entry.action)


def bank_public(bank: HashBank, counts: dict[str, int]) -> dict:
    return {
        "name": bank.name, "publisher": bank.publisher, "kind": bank.kind, "distance": bank.distance,
        "flood_threshold": bank.flood_threshold, "flood_window_seconds": bank.flood_window_seconds,
        "description": bank.description,
        "entries": {s: counts.get(s, 0) for s in ("active", "quarantined", "removed")},
        "created_at": bank.created_at.isoformat(), "updated_at": bank.updated_at.isoformat(),
    }


def entry_public(entry: HashBankEntry, bank_name: str) -> dict:
    return {
        "id": entry.id, "bank": bank_name, "pdq": entry.pdq, "label": entry.label, "severity": entry.severity,
        "actors": list(entry.actors or ()), "action": entry.action, "source": entry.source, "note": entry.note,
        "status": entry.status, "status_reason": entry.status_reason, "created_by": entry.created_by,
        "created_at": entry.created_at.isoformat(), "updated_at": entry.updated_at.isoformat(),
    }


def hash_entry_ids(result: dict) -> list[int]:
    """Ids of the bank entries whose evidence is in ``result``'s labels."""
    ids: list[int] = []
    for label in result.get("labels") or ():
        for ev in label.get("evidence") or ():
            parsed = parse_evidence_source(ev.get("source", ""))
            if parsed is not None and parsed[1] not in ids:
                ids.append(parsed[1])
    return ids


class HashBanks:
    """The Moderator's ``hash_matcher``, plus the bank operations that keep it in sync."""

    def __init__(self, storage, settings) -> None:
        self.storage = storage
        self.settings = settings
        self.matcher = BankMatcher()
        self._refresh_lock = threading.Lock()
        self._synced_at: float | None = None  # time.monotonic() of the last refresh
        self._watermark: datetime | None = None  # entries updated since this are re-read

    # -- the Moderator's contract ---------------------------------------------------------

    def match(self, doc, publisher: str):
        return self.matcher.match(doc, publisher)

    # -- keeping in sync --------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        return self._synced_at is None or time.monotonic() - self._synced_at >= self.settings.bank_refresh_seconds

    def refresh(self, *, full: bool = False) -> int:
        """Read banks and the entries changed since the last refresh (all on the first); entries applied."""
        with self._refresh_lock:
            started = utcnow()
            since = None if full or self._watermark is None else self._watermark - REFRESH_OVERLAP
            applied = 0
            with self.storage.session() as session:
                for bank in q.list_banks(session):
                    self.matcher.set_bank(bank_info(bank))
            after = 0
            while True:
                with self.storage.session() as session:
                    rows = q.entries_changed_since(session, since, after_id=after)
                active = [entry_info(r) for r in rows if r.status == "active"]
                self.matcher.put(active)
                self.matcher.discard([r.id for r in rows if r.status != "active"])  # type: ignore[misc]
                applied += len(rows)
                if len(rows) < 20_000:
                    break
                after = rows[-1].id  # type: ignore[assignment]
            self._watermark = started
            self._synced_at = time.monotonic()
            return applied

    def refresh_quietly(self) -> None:
        """``refresh`` for request paths: a database failure is logged and the last state kept."""
        try:
            self.refresh()
        except Exception:  # noqa: BLE001 (matching goes on with what is loaded)
            log.warning("hash banks: refresh failed; matching with the last loaded state", exc_info=True)
            self._synced_at = time.monotonic()

    # -- flood control ----------------------------------------------------------------------

    def account(self, result: dict, *, publisher: str, item_key: str, actor: str | None = None) -> list[int]:
        """Record the hits of ``result``'s hash evidence; ids of entries this quarantined (flood)."""
        entry_ids = hash_entry_ids(result)
        if not entry_ids:
            return []
        quarantined: list[int] = []
        with self.storage.session() as session:
            for entry_id in entry_ids:
                entry = q.lock_entry(session, entry_id)
                if entry is None or entry.status != "active":
                    continue
                q.record_hit(session, entry_id=entry_id, publisher=publisher, item_id=item_key)
                bank = session.get(HashBank, entry.bank_id)
                if bank is None or bank.flood_threshold is None:
                    continue
                count = q.distinct_hits_since(session, entry_id, q.window_start(bank.flood_window_seconds))
                if count > bank.flood_threshold:
                    self._quarantine(session, entry, bank, count, actor or "system")
                    quarantined.append(entry_id)
        if quarantined:
            self.matcher.discard(quarantined)
        return quarantined

    @staticmethod
    def _quarantine(session, entry: HashBankEntry, bank: HashBank, count: int, actor: str) -> None:
        reason = (f"flood: matched {count} distinct items within {bank.flood_window_seconds} s (threshold "
                  f"{bank.flood_threshold}); pending review")
        q.set_status(session, entry, "quarantined", reason)
        audit.record(session, action="bank.entry_quarantine", actor=actor, publisher=bank.publisher,
                     before={"bank": bank.name, "entry_id": entry.id, "status": "active"},
                     after={"bank": bank.name, "entry_id": entry.id, "status": "quarantined", "reason": reason,
                            "distinct_items": count})

    # -- banks ------------------------------------------------------------------------------

    def _bank(self, session, name: str) -> HashBank:
        bank = q.get_bank(session, name)
        if bank is None:
            raise ApiError(404, "bank_not_found", f"no hash bank named {name!r}", "name")
        return bank

    def list_banks(self, *, publisher: str | None = None) -> list[dict]:
        with self.storage.session() as session:
            counts = q.entry_counts(session)
            return [bank_public(b, counts.get(b.id, {})) for b in q.list_banks(session, publisher=publisher)]

    def get_bank(self, name: str) -> dict:
        with self.storage.session() as session:
            bank = self._bank(session, name)
            return bank_public(bank, q.entry_counts(session).get(bank.id, {}))

    def bank_row(self, name: str) -> HashBank:
        with self.storage.session() as session:
            return self._bank(session, name)

    def create_bank(self, data: BankCreate, *, actor: str | None) -> dict:
        threshold = data.flood_threshold if "flood_threshold" in data.model_fields_set else self.settings.bank_flood_threshold
        bank = HashBank(name=data.name, publisher=data.publisher, kind=data.kind, distance=data.distance,
                        flood_threshold=threshold,
                        flood_window_seconds=data.flood_window_seconds or self.settings.bank_flood_window_seconds,
                        description=data.description)
        try:
            with self.storage.session() as session:
                if q.get_bank(session, data.name) is not None:
                    raise ApiError(409, "bank_exists", f"a hash bank named {data.name!r} exists", "name")
                session.add(bank)
                session.flush()
                audit.record(session, action="bank.create", actor=actor, publisher=bank.publisher,
                             after=_settings_of(bank))
        except IntegrityError:
            raise ApiError(409, "bank_exists", f"a hash bank named {data.name!r} exists", "name") from None
        self.matcher.set_bank(bank_info(bank))
        return bank_public(bank, {})

    def update_bank(self, name: str, data: BankUpdate, *, actor: str | None) -> dict:
        with self.storage.session() as session:
            bank = self._bank(session, name)
            before = _settings_of(bank)
            for key in data.model_fields_set:
                value = getattr(data, key)
                if value is None and key != "flood_threshold" and key != "description":
                    continue
                setattr(bank, key, value)
            bank.updated_at = utcnow()
            session.add(bank)
            audit.record(session, action="bank.update", actor=actor, publisher=bank.publisher, before=before,
                         after=_settings_of(bank))
            counts = q.entry_counts(session).get(bank.id, {})
        self.matcher.set_bank(bank_info(bank))
        return bank_public(bank, counts)

    # -- entries ----------------------------------------------------------------------------

    def list_entries(self, name: str | None, *, status: str | None, after_id: int, limit: int) -> dict:
        with self.storage.session() as session:
            bank_id = self._bank(session, name).id if name is not None else None
            rows = q.list_entries(session, bank_id, status=status, after_id=after_id, limit=limit)
            names = {b.id: b.name for b in q.list_banks(session)}
        return {"entries": [entry_public(r, names.get(r.bank_id, "?")) for r in rows],
                "next_after_id": rows[-1].id if len(rows) == limit else None}

    def get_entry(self, name: str, entry_id: int) -> dict:
        with self.storage.session() as session:
            bank = self._bank(session, name)
            return entry_public(self._entry(session, bank, entry_id), bank.name)

    @staticmethod
    def _entry(session, bank: HashBank, entry_id: int) -> HashBankEntry:
        entry = session.get(HashBankEntry, entry_id)
        if entry is None or entry.bank_id != bank.id:
            raise ApiError(404, "entry_not_found", f"bank {bank.name!r} has no entry {entry_id}", "entry_id")
        return entry

    def add_entries(self, name: str, entries: list[EntryCreate], *, actor: str | None, single: bool = False,
                    where: str = "entries") -> dict:
        """Add entries (all or none); hashes already in the bank are left alone; then match stored items."""
        from service.bank_retro import retro_match

        try:
            with self.storage.session() as session:
                bank = self._bank(session, name)
                added, unchanged = self._insert(session, bank, entries, actor=actor, single=single, where=where)
                audit.record(session, action="bank.entries_add", actor=actor, publisher=bank.publisher,
                             after={"bank": bank.name, "added": len(added), "unchanged": unchanged,
                                    "entry_ids": [e.id for e in added[:LISTED]]})
        except IntegrityError:
            raise ApiError(409, "entry_conflict", "another request added the same hashes; retry", "pdq") from None
        self.matcher.set_bank(bank_info(bank))
        self.matcher.put([entry_info(e) for e in added if e.status == "active"])
        self.matcher.discard([e.id for e in added if e.status != "active"])  # type: ignore[misc]
        retro = retro_match(self, bank, [entry_info(e) for e in added if e.status == "active"], actor=actor)
        return {"added": len(added), "unchanged": unchanged,
                "entries": [entry_public(e, bank.name) for e in added[:LISTED]], "retro": retro}

    @staticmethod
    def _insert(session, bank: HashBank, entries: list[EntryCreate], *, actor, single: bool, where: str):
        checked = []
        for i, entry in enumerate(entries):
            try:
                checked.append(check_entry(entry, bank.kind))
            except EntryError as exc:
                field = exc.field if single else f"{where}.{i}.{exc.field}"
                raise ApiError(422, "invalid_entry", f"{field}: {exc}", field) from None
        existing = q.entries_by_pdq(session, bank.id, sorted({c["pdq"] for c in checked}))  # type: ignore[arg-type]
        added: list[HashBankEntry] = []
        unchanged = 0
        seen: set[str] = set()
        now = utcnow()
        for columns in checked:
            pdq = columns["pdq"]
            row = existing.get(pdq)
            if pdq in seen or (row is not None and row.status != "removed"):
                if single:
                    raise ApiError(409, "entry_exists", f"bank {bank.name!r} already has this hash (entry {row.id})"
                                   if row is not None else "the same hash appears twice", "pdq")
                unchanged += 1
                continue
            seen.add(pdq)
            if row is None:
                row = HashBankEntry(bank_id=bank.id, created_by=actor, **columns)  # type: ignore[arg-type]
            else:  # a removed hash added again
                for key, value in columns.items():
                    setattr(row, key, value)
                row.status_reason, row.created_by, row.updated_at = None, actor, now
            session.add(row)
            added.append(row)
        session.flush()
        return added, unchanged

    def update_entry(self, name: str, entry_id: int, data: EntryUpdate, *, actor: str | None) -> dict:
        with self.storage.session() as session:
            bank = self._bank(session, name)
            entry = self._entry(session, bank, entry_id)
            before = {"bank": bank.name, "entry_id": entry.id, "status": entry.status, "note": entry.note}
            if data.note is not None:
                entry.note = data.note
            if data.status is not None and data.status != entry.status:
                if data.status == "active":
                    q.clear_hits(session, entry.id)  # reviewed: the flood count starts afresh
                q.set_status(session, entry, data.status, data.reason)
            entry.updated_at = utcnow()
            session.add(entry)
            audit.record(session, action="bank.entry_update", actor=actor, publisher=bank.publisher, before=before,
                         after={"bank": bank.name, "entry_id": entry.id, "status": entry.status, "note": entry.note,
                                "reason": data.reason})
        if entry.status == "active":
            self.matcher.put([entry_info(entry)])
        else:
            self.matcher.discard([entry.id])  # type: ignore[list-item]
        return entry_public(entry, bank.name)

    def iter_export(self, name: str, *, statuses: tuple[str, ...]):
        """(bank, entries in pages) for an export; each page is read in its own short transaction."""
        bank = self.bank_row(name)

        def pages():
            after = 0
            while True:
                with self.storage.session() as session:
                    rows = [r for r in q.list_entries(session, bank.id, after_id=after, limit=5000)]
                yield [r for r in rows if r.status in statuses]
                if len(rows) < 5000:
                    return
                after = rows[-1].id

        return bank, pages()


def _settings_of(bank: HashBank) -> dict:
    return {"bank": bank.name, "publisher": bank.publisher, "kind": bank.kind, "distance": bank.distance,
            "flood_threshold": bank.flood_threshold, "flood_window_seconds": bank.flood_window_seconds}
