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
  ``bank.entry_quarantine``), the item is moderated again without it, and the
  stored items of the flood it blocked are held for review (``bank_retro.release_entry``);
* retroactive matching (``service.bank_retro``) when entries are added.

Bank and entry administration: ``service.bank_admin``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from classifiers.hashing.matcher import BankInfo, BankMatcher, EntryInfo, parse_evidence_source
from service.db import audit
from service.db import banks as q
from service.db.bank_models import HashBank, HashBankEntry
from service.db.models import utcnow

log = logging.getLogger("modlabel.banks")

# Changes are re-read this far back, so a transaction that committed late is not missed.
REFRESH_OVERLAP = timedelta(seconds=120)


def bank_info(bank: HashBank) -> BankInfo:
    return BankInfo(bank.id, bank.name, bank.publisher, bank.kind, bank.distance)  # type: ignore[arg-type]


def entry_info(entry: HashBankEntry) -> EntryInfo:
    return EntryInfo(entry.id, entry.bank_id, entry.pdq, entry.label, entry.severity, tuple(entry.actors or ()),  # type: ignore[arg-type]
                     entry.action, tuple(entry.variants or ()))


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
        "status": entry.status, "status_reason": entry.status_reason, "variants": list(entry.variants or ()),
        "created_by": entry.created_by,
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
        self._recent: dict[int, datetime] = {}  # id -> updated_at applied, for entries within the overlap

    # -- the Moderator's contract ---------------------------------------------------------

    def match(self, doc, publisher: str):
        return self.matcher.match(doc, publisher)

    # -- keeping in sync --------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        return self._synced_at is None or time.monotonic() - self._synced_at >= self.settings.bank_refresh_seconds

    def refresh(self, *, full: bool = False) -> int:
        """Read banks and the entries changed since the last refresh (all on the first); rows applied.

        Entries updated within ``REFRESH_OVERLAP`` of the last refresh are looked at again
        (a transaction may commit after a later one), but only their (id, updated_at)
        pairs: rows already applied at that version are not fetched twice.
        """
        with self._refresh_lock:
            started = utcnow()
            cold = full or self._watermark is None
            with self.storage.session() as session:
                for bank in q.list_banks(session):
                    self.matcher.set_bank(bank_info(bank))
            recent: dict[int, datetime] = {}
            applied = 0
            if cold:
                after, active, inactive = 0, [], []
                while True:
                    with self.storage.session() as session:
                        rows = q.match_rows_page(session, after_id=after)
                    if not rows:
                        break
                    active.extend(entry_info(r) for r in rows if r.status == "active")
                    inactive.extend(r.id for r in rows if r.status != "active")
                    recent.update((r.id, r.updated_at) for r in rows if r.updated_at >= started - REFRESH_OVERLAP)
                    applied += len(rows)
                    after = rows[-1].id
                self.matcher.put(active)  # one index build, not one merge per page
                self.matcher.discard(inactive)
            else:
                since = self._watermark - REFRESH_OVERLAP  # type: ignore[operator]
                with self.storage.session() as session:
                    versions = self._versions(session, since)
                    changed = [i for i, ts in versions if self._recent.get(i) != ts]
                    rows = q.match_rows(session, changed) if changed else []
                self._apply_rows(rows)
                applied = len(rows)
                recent = dict(versions)
            self._recent = recent
            self._watermark = started
            self._synced_at = time.monotonic()
            return applied

    @staticmethod
    def _versions(session, since: datetime) -> list[tuple[int, datetime]]:
        versions: list[tuple[int, datetime]] = []
        while True:
            page = q.versions_since(session, since, after_id=versions[-1][0] if versions else 0)
            versions.extend(page)
            if len(page) < 50_000:
                return versions

    def _apply_rows(self, rows: list) -> None:
        self.matcher.put([entry_info(r) for r in rows if r.status == "active"])
        self.matcher.discard([r.id for r in rows if r.status != "active"])

    def apply(self, *, bank: HashBank | None = None, active: list[HashBankEntry] = (), inactive: list[int] = ()) -> None:
        """Apply committed changes of this process to the matcher (after any refresh in flight, never under it)."""
        with self._refresh_lock:
            if bank is not None:
                self.matcher.set_bank(bank_info(bank))
            self.matcher.put([entry_info(e) for e in active])
            self.matcher.discard(list(inactive))

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
        quarantined: list[tuple[int, datetime]] = []  # (entry id, start of its flood window)
        with self.storage.session() as session:
            for entry_id in entry_ids:
                entry = q.lock_entry(session, entry_id)
                if entry is None or entry.status != "active":
                    continue
                q.record_hit(session, entry_id=entry_id, publisher=publisher, item_id=item_key)
                bank = session.get(HashBank, entry.bank_id)
                if bank is None or bank.flood_threshold is None:
                    continue
                since = q.window_start(bank.flood_window_seconds)
                count = q.distinct_hits_since(session, entry_id, since)
                if count > bank.flood_threshold:
                    self.quarantine_entry(session, entry, bank, count, actor or "system")
                    quarantined.append((entry_id, since))
        if quarantined:
            self.apply(inactive=[entry_id for entry_id, _ in quarantined])
            self._release_quietly(quarantined, actor=actor)
        return [entry_id for entry_id, _ in quarantined]

    def _release_quietly(self, flooded: list[tuple[int, datetime]], *, actor: str | None) -> None:
        """Hold for review the stored items of the flood window these entries blocked (``bank_retro.release_entry``)."""
        from service.bank_retro import release_entry

        for entry_id, since in flooded:
            try:
                release_entry(self, entry_id, removed=False, scan=False, hits_since=since, actor=actor or "system")
            except Exception:  # noqa: BLE001 (the quarantine stands; the items are listed by its hits)
                log.warning("hash banks: could not release the items of quarantined entry %s", entry_id, exc_info=True)

    @staticmethod
    def quarantine_entry(session, entry: HashBankEntry, bank: HashBank, count: int, actor: str) -> None:
        reason = (f"flood: matched {count} distinct items within {bank.flood_window_seconds} s (threshold "
                  f"{bank.flood_threshold}); pending review")
        q.set_status(session, entry, "quarantined", reason)
        audit.record(session, action="bank.entry_quarantine", actor=actor, publisher=bank.publisher,
                     before={"bank": bank.name, "entry_id": entry.id, "status": "active"},
                     after={"bank": bank.name, "entry_id": entry.id, "status": "quarantined", "reason": reason,
                            "distinct_items": count, "threshold": bank.flood_threshold,
                            "window_seconds": bank.flood_window_seconds})
