"""Retroactive matching: new bank entries against the media hashes of items already stored.

Every stored item keeps the PDQ hashes of its current media (``item_media``).
When entries are added to a positive bank, those hashes are scanned in pages
(a HashIndex over each page, searched with each new entry), and each matching
item, unless a negative bank vouches for that media, is sent to
``hold_for_review`` through ``service.storage.record_decision_change`` (a
``rescan`` result carrying the hash label; a callback is queued when the
decision changes). Items already blocked, or under a moderator's override, are
left alone. A new entry matching more distinct items than its bank's flood
threshold is quarantined instead of holding them.
"""

from __future__ import annotations

import logging

from classifiers.hashing.index import HashIndex
from classifiers.hashing.matcher import EntryInfo, confidence, evidence_source
from service.db import audit
from service.db import banks as q
from service.db import items as item_queries
from service.db.bank_models import HashBank
from service.db.models import Item
from service.storage import record_decision_change

log = logging.getLogger("modlabel.banks")

PAGE = 20_000
LISTED = 100
LABEL_ORDER = ("extremist_source", "graphic_violence", "unverified")


def retro_match(banks, bank: HashBank, entries: list[EntryInfo], *, actor: str | None) -> dict:
    """Hold the stored items whose current media match ``entries``; a RetroOutcome dict."""
    outcome: dict = {"media_scanned": 0, "items_held": 0, "held": [], "quarantined_entries": []}
    if bank.kind != "positive" or not entries:
        return outcome
    matches = _scan(banks, bank, entries, outcome)
    by_entry: dict[int, set[int]] = {}
    for item_pk, found in matches.items():
        for entry, *_ in found:
            by_entry.setdefault(entry.id, set()).add(item_pk)
    flooded = {entry_id for entry_id, items in by_entry.items()
               if bank.flood_threshold is not None and len(items) > bank.flood_threshold}
    if flooded:
        _quarantine(banks, bank, flooded, by_entry, actor)
        outcome["quarantined_entries"] = sorted(flooded)
    for item_pk, found in matches.items():
        found = [f for f in found if f[0].id not in flooded]
        if found and _hold(banks, bank, item_pk, found, actor, outcome):
            outcome["items_held"] += 1
    return outcome


def _scan(banks, bank: HashBank, entries: list[EntryInfo], outcome: dict) -> dict[int, list[tuple]]:
    """item pk -> [(entry, media_id, position, pdq, distance)] for the media the new entries match."""
    matches: dict[int, list[tuple]] = {}
    after = 0
    while True:
        with banks.storage.session() as session:
            page = q.item_media_page(session, publisher=bank.publisher, after_id=after, limit=PAGE)
        if not page:
            break
        outcome["media_scanned"] += len(page)
        index = HashIndex()
        index.add(range(len(page)), [m.pdq for m in page])
        for entry in entries:
            for row, distance in index.search(entry.pdq, bank.distance):
                media = page[row]
                if banks.matcher.negative_hit(media.pdq, media.publisher):
                    continue
                matches.setdefault(media.item_pk, []).append((entry, media.media_id, media.position, media.pdq, distance))
        if len(page) < PAGE:
            break
        after = page[-1].id
    return matches


def _quarantine(banks, bank: HashBank, flooded: set[int], by_entry: dict[int, set[int]], actor: str | None) -> None:
    with banks.storage.session() as session:
        fresh = session.get(HashBank, bank.id)
        for entry_id in sorted(flooded):
            entry = q.lock_entry(session, entry_id)
            if entry is not None and entry.status == "active":
                banks.quarantine_entry(session, entry, fresh or bank, len(by_entry[entry_id]), actor or "system")
    banks.apply(inactive=sorted(flooded))


def _hold(banks, bank: HashBank, item_pk: int, found: list[tuple], actor: str | None, outcome: dict) -> bool:
    """Send one item to hold_for_review with the hash labels added; False when left alone."""
    with banks.storage.session() as session:
        item = session.get(Item, item_pk)
        current = item_queries.current_result(session, item) if item is not None else None
        if item is None or current is None or current.decision == "block" or current.source == "override":
            return False
        labels = [dict(lab) for lab in current.labels or []]
        changed = False
        for entry, media_id, position, pdq, distance in found:
            changed |= _add_hash_label(labels, bank, entry, position, pdq, distance)
        if not changed and current.decision == "hold_for_review":
            return False
        result = {
            "item_id": item.item_id, "content_hash": current.content_hash, "decision": "hold_for_review",
            "labels": labels, "disclaimers": current.disclaimers or [], "policy_version": current.policy_version,
            "model_version": current.model_version,
        }
        entry, media_id, _, _, distance = found[0]
        reason = f"hash bank {bank.name}: entry {entry.id} matched stored media {media_id} (d={distance})"
        record_decision_change(session, item.publisher, item.item_id, result, reason, source="rescan", actor=actor)
        for entry_id in {f[0].id for f in found}:
            q.record_hit(session, entry_id=entry_id, publisher=item.publisher, item_id=item.item_id)
        audit.record(session, action="bank.retro_hold", actor=actor or "system", publisher=item.publisher,
                     item_id=item.item_id, before={"decision": current.decision},
                     after={"decision": "hold_for_review", "bank": bank.name,
                            "entries": sorted({f[0].id for f in found}), "media": sorted({f[1] for f in found})})
    if len(outcome["held"]) < LISTED:
        for entry, media_id, _, _, distance in found:
            outcome["held"].append({"publisher": item.publisher, "item_id": item.item_id, "media_id": media_id,
                                    "entry_id": entry.id, "distance": distance})
    return True


def _add_hash_label(labels: list[dict], bank: HashBank, entry: EntryInfo, position: int, pdq: str, distance: int) -> bool:
    """Merge one hash match into stored labels (stage "hash", evidence on media[i].pdq); False if already there."""
    evidence = {"field": f"media[{position}].pdq", "start": 0, "end": len(pdq), "text": pdq,
                "source": evidence_source(bank.name, entry.id, distance)}
    label = next((lab for lab in labels if lab.get("name") == entry.label), None)
    if label is None:
        label = {"name": entry.label, "confidence": 0.0, "stages": [], "evidence": []}
        if entry.label == "graphic_violence":
            label["severity"] = entry.severity
        if entry.label == "extremist_source":
            label["actors"] = []
        labels.append(label)
        labels.sort(key=lambda lab: LABEL_ORDER.index(lab["name"]) if lab.get("name") in LABEL_ORDER else 99)
    if any(ev.get("source") == evidence["source"] and ev.get("field") == evidence["field"] for ev in label["evidence"]):
        return False
    label["evidence"] = [*label.get("evidence", []), evidence]
    label["stages"] = [*label.get("stages", []), *(["hash"] if "hash" not in label.get("stages", []) else [])]
    label["confidence"] = max(label.get("confidence", 0.0), confidence(distance, bank.distance))
    if entry.label == "graphic_violence" and entry.severity == "extreme":
        label["severity"] = "extreme"
    if entry.label == "extremist_source":
        label["actors"] = [*label.get("actors", []), *(a for a in entry.actors if a not in label.get("actors", []))]
    return True
