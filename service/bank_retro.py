"""Retroactive matching and release: bank entries against the items already stored.

*Matching* (``retro_match``), when entries are added:

Every stored item keeps the PDQ hashes of its current media (``item_media``).
When entries are added to a positive bank, those hashes are scanned in pages
(a HashIndex over each page, searched with each new entry), and each matching
item, unless a negative bank vouches for that media, is sent to
``hold_for_review`` through ``service.storage.record_decision_change`` (a
``rescan`` result carrying the hash label; a callback is queued when the
decision changes). Items already blocked, or under a moderator's override, are
left alone. A new entry matching more distinct items than its bank's flood
threshold is quarantined instead of holding them.

*Release* (``release_entry``), when an entry stops matching: the stored items
whose current decision carries the entry's evidence (found through its hits,
and for a removal also by scanning the stored media hashes) are decided again.

* removed (an admin judged the entry wrong): each item is moderated again from
  its stored content, now without the entry, and the new result recorded (it
  may publish; other entries, rules and the classifier still apply);
* quarantined (flood or by hand: the entry is suspended pending review): an
  item it *blocked*, with no other active blocking entry, goes to
  ``hold_for_review`` with its labels kept, so a moderator decides instead of
  the suspended entry; items already held stay held.

Items under a moderator's override are left alone. Each change goes through
``record_decision_change`` (callback queued) and is audited as ``bank.entry_release``.
"""

from __future__ import annotations

import logging

from classifiers.hashing.index import HashIndex
from classifiers.hashing.matcher import EntryInfo, confidence, evidence_source, parse_evidence_source
from service.db import audit
from service.db import banks as q
from service.db import items as item_queries
from service.db.bank_models import HashBank, HashBankEntry
from service.db.contents import get_content
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
            for row, distance in _nearest(index, entry, bank.distance):
                media = page[row]
                if banks.matcher.negative_hit(media.pdq, media.publisher):
                    continue
                matches.setdefault(media.item_pk, []).append((entry, media.media_id, media.position, media.pdq, distance))
        if len(page) < PAGE:
            break
        after = page[-1].id
    return matches


def _nearest(index: HashIndex, entry: EntryInfo, max_distance: int) -> list[tuple[int, int]]:
    """(row, distance) of the indexed media within ``max_distance`` of any of the entry's hashes (the nearest)."""
    best: dict[int, int] = {}
    for pdq in entry.hashes():
        for row, distance in index.search(pdq, max_distance):
            if distance < best.get(row, max_distance + 1):
                best[row] = distance
    return sorted(best.items())


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


# -- release ------------------------------------------------------------------------------------


def evidence_entries(labels: list[dict] | None) -> set[int]:
    """Ids of the bank entries whose evidence is in these labels."""
    ids = set()
    for label in labels or ():
        for ev in label.get("evidence") or ():
            parsed = parse_evidence_source(ev.get("source", ""))
            if parsed is not None:
                ids.add(parsed[1])
    return ids


def release_entry(banks, entry_id: int, *, removed: bool, moderator=None, scan: bool = True,
                  hits_since=None, actor: str | None = None) -> dict:
    """Decide again the stored items whose current decision carries ``entry_id``'s evidence; an EntryRelease dict.

    Call after the entry stopped matching (status committed, matcher updated). ``removed``:
    the items are moderated again without it (needs ``moderator``; without one, or without
    stored content, an item it blocked is held for review instead). Otherwise (quarantined)
    an item it alone blocked is held for review. ``scan``: also look for matching items in
    the stored media hashes (besides the entry's recorded hits); ``hits_since``: only
    hits from then on (a flood quarantine: the items of the flood window).
    """
    outcome: dict = {"items_checked": 0, "items_changed": 0, "changed": []}
    with banks.storage.session() as session:
        entry = session.get(HashBankEntry, entry_id)
        bank = session.get(HashBank, entry.bank_id) if entry is not None else None
        if entry is None or bank is None or bank.kind != "positive":
            return outcome
        candidates = set(q.hit_item_pks(session, entry_id, since=hits_since))
        info = EntryInfo(entry.id, entry.bank_id, entry.pdq, entry.label, entry.severity, tuple(entry.actors or ()),
                         entry.action, tuple(entry.variants or ()))
    if scan:
        candidates.update(_scan(banks, bank, [info], {"media_scanned": 0}))
    status = "removed" if removed else "quarantined"
    for item_pk in sorted(candidates):
        with banks.storage.session() as session:
            change = _release_one(session, banks, item_pk, entry_id, removed=removed, moderator=moderator)
            if change is None:
                continue
            outcome["items_checked"] += 1
            item, before, result = change
            if result is None:
                continue
            reason = f"hash bank {bank.name}: entry {entry_id} {status}"
            record_decision_change(session, item.publisher, item.item_id, result, reason, source="rescan", actor=actor)
            audit.record(session, action="bank.entry_release", actor=actor or "system", publisher=item.publisher,
                         item_id=item.item_id, before={"decision": before, "entry_id": entry_id},
                         after={"decision": result["decision"], "bank": bank.name, "entry_id": entry_id,
                                "entry_status": status})
        outcome["items_changed"] += 1
        if len(outcome["changed"]) < LISTED:
            outcome["changed"].append({"publisher": item.publisher, "item_id": item.item_id, "before": before,
                                       "after": result["decision"]})
    if outcome["items_changed"]:
        log.info("hash banks: entry %s %s; %s stored items decided again", entry_id, status, outcome["items_changed"])
    return outcome


def _release_one(session, banks, item_pk: int, entry_id: int, *, removed: bool, moderator):
    """(item, decision before, new result or None when unchanged), or None when the entry had no part in it."""
    item = session.get(Item, item_pk)
    current = item_queries.current_result(session, item) if item is not None else None
    if item is None or current is None or current.source == "override":
        return None
    cited = evidence_entries(current.labels)
    if entry_id not in cited:
        return None
    result = None
    if removed and moderator is not None:
        content = get_content(session, item_pk=item.id, content_hash=item.content_hash)  # type: ignore[arg-type]
        if content is not None:
            result = moderator.moderate({**content, "id": item.item_id, "publisher": item.publisher})
    if result is None:  # quarantined, or no way to moderate again: a block it caused goes to a moderator
        still_blocked = any(banks.matcher.entry(e) is not None and banks.matcher.entry(e).action == "block"
                            for e in cited - {entry_id})
        if current.decision != "block" or still_blocked:
            return item, current.decision, None
        result = {"item_id": item.item_id, "content_hash": current.content_hash, "decision": "hold_for_review",
                  "labels": current.labels or [], "disclaimers": current.disclaimers or [],
                  "policy_version": current.policy_version, "model_version": current.model_version}
    same = result["decision"] == current.decision and _signature(result["labels"]) == _signature(current.labels)
    return item, current.decision, None if same else result


def _signature(labels: list[dict] | None) -> list:
    return sorted((lab.get("name"), lab.get("severity"), tuple(sorted(lab.get("actors") or ())),
                   tuple(sorted(evidence_entries([lab])))) for lab in labels or ())
