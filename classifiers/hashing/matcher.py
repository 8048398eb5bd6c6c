"""Match a document's media against hash banks held in memory: one :class:`HashIndex` per bank.

Lifecycle (after ThreatExchange's hasher-matcher-actioner)::

    image -> compute_pdq -> media[i].pdq          (client, or POST /v1/media/hash)
    bank entries (database) -> BankMatcher.put()  (service.banks keeps it in sync)
    Document.media[i].pdq -> BankMatcher.match()  -> HashVote per matched entry
                          -> fusion (stage "hash") -> decision: block | hold_for_review

Rules of a match, per media item with a ``pdq``:

* only banks of the item's publisher and global banks apply;
* a hit in any *negative* bank (known-good images, e.g. the publisher's own
  archive) within that bank's distance ends matching for that media item;
* otherwise, in each positive bank, the nearest active entry within the bank's
  distance matches (ties: the lower entry id).

An entry may carry *variant* hashes besides its own (``EntryInfo.variants``:
crops, rotations and the mirror image of the picture it was made from, see
``classifiers.hashing.variants``). They are indexed with it: index id
``entry id * 64 + slot`` (slot 0: the entry's own hash), so a query matches
the entry at the smallest distance to any of its hashes, and evidence names
the entry, never a variant.

The matcher is pure in-memory state guarded by one lock; it never touches a
database. ``match`` returns ``(votes, blocked)`` as ``Moderator`` expects.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

from classifiers.base import Evidence, Vote
from classifiers.document import Document
from classifiers.hashing.index import HashIndex

# Confidence of a hash vote: 1.0 for an exact copy, falling linearly to this at the bank's distance.
MIN_HASH_CONFIDENCE = 0.8


@dataclass(slots=True)
class HashVote(Vote):
    """A vote from a bank entry: what to do (``action``) and which media items it flags."""

    media_ids: list[str] = field(default_factory=list)
    action: str = "block"  # block | hold_for_review
    bank: str = ""
    entry_id: int = 0
    distance: int = 0


@dataclass(frozen=True, slots=True)
class BankInfo:
    """What matching needs to know of a bank."""

    id: int
    name: str
    publisher: str | None  # None: every publisher
    kind: str  # positive | negative
    distance: int


# Index slots per entry: its own hash and at most SLOTS - 1 variants.
SLOT_BITS = 6
SLOTS = 1 << SLOT_BITS


class EntryInfo(NamedTuple):
    """What matching needs to know of an active entry (a tuple: millions are built at load)."""

    id: int
    bank_id: int
    pdq: str
    label: str | None
    severity: str | None
    actors: tuple[str, ...]
    action: str
    variants: tuple[str, ...] = ()  # hashes of edited copies of the entry's image (matched like ``pdq``)

    def hashes(self) -> tuple[str, ...]:
        """The entry's own hash, then its variants (index slot order)."""
        return (self.pdq, *self.variants)


def index_ids(entry_id: int, count: int) -> list[int]:
    """Index ids of an entry's first ``count`` hashes."""
    return [(entry_id << SLOT_BITS) | slot for slot in range(count)]


def entry_of(index_id: int) -> int:
    """The entry id an index id belongs to."""
    return index_id >> SLOT_BITS


@dataclass(frozen=True, slots=True)
class Hit:
    bank: BankInfo
    entry: EntryInfo
    distance: int


class BankMatcher:
    """Banks and their active entries, indexed for Hamming-radius search."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._banks: dict[int, BankInfo] = {}
        self._indexes: dict[int, HashIndex] = {}
        self._entries: dict[int, EntryInfo] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def hash_count(self) -> int:
        """Hashes indexed: entries plus their variants."""
        with self._lock:
            return sum(len(index) for index in self._indexes.values())

    def entry(self, entry_id: int) -> EntryInfo | None:
        """The active entry with this id (its ``pdq`` left empty: the index holds it), or None."""
        with self._lock:
            return self._entries.get(entry_id)

    # -- keeping in sync ---------------------------------------------------------------

    def set_bank(self, bank: BankInfo) -> None:
        """Add a bank or change its settings (its entries stay)."""
        with self._lock:
            self._banks[bank.id] = bank
            self._indexes.setdefault(bank.id, HashIndex())

    def put(self, entries: list[EntryInfo]) -> None:
        """Make these entries active (adding or replacing); their banks must be known."""
        with self._lock:
            fresh: dict[int, tuple[list[int], list[str], list[int], list[EntryInfo]]] = {}
            known = self._entries
            for entry in entries:
                if entry.bank_id not in self._banks:
                    raise KeyError(f"entry {entry.id}: unknown bank {entry.bank_id}")
                slim = _slim(entry)
                old = known.get(entry.id)
                if old is not None:
                    if old == slim:
                        continue
                    self._unindex(old)
                    del known[old.id]
                ids, hashes, entry_ids, slims = fresh.setdefault(entry.bank_id, ([], [], [], []))
                first = entry.id << SLOT_BITS
                if entry.variants:
                    if len(entry.variants) >= SLOTS:
                        raise ValueError(f"entry {entry.id}: {len(entry.variants)} variants, at most {SLOTS - 1}")
                    ids.extend(range(first, first + 1 + len(entry.variants)))
                    hashes.extend(entry.hashes())
                else:  # the common case (entries imported as hashes): no per-entry lists
                    ids.append(first)
                    hashes.append(entry.pdq)
                entry_ids.append(entry.id)
                slims.append(slim)
            for bank_id, (ids, hashes, entry_ids, slims) in fresh.items():
                self._indexes[bank_id].add(ids, hashes)
                known.update(zip(entry_ids, slims))

    def _unindex(self, old: EntryInfo) -> None:
        index = self._indexes[old.bank_id]
        for index_id in index_ids(old.id, 1 + len(old.variants)):
            index.remove(index_id)

    def discard(self, entry_ids: list[int]) -> None:
        """Stop matching these entries (removed or quarantined); unknown ids are ignored."""
        with self._lock:
            for entry_id in entry_ids:
                old = self._entries.pop(entry_id, None)
                if old is not None:
                    self._unindex(old)

    def active_ids(self) -> set[int]:
        with self._lock:
            return set(self._entries)

    # -- matching ----------------------------------------------------------------------

    def search(self, pdq: str, publisher: str) -> tuple[list[Hit], list[Hit]]:
        """(negative hits, positive hits) for one hash; positives are empty when a negative hit exists."""
        with self._lock:
            banks = [b for b in self._banks.values() if b.publisher is None or b.publisher == publisher]
            negative = self._hits(pdq, [b for b in banks if b.kind == "negative"], first_only=True)
            if negative:
                return negative, []
            return [], self._hits(pdq, [b for b in banks if b.kind == "positive"], first_only=False)

    def negative_hit(self, pdq: str, publisher: str) -> bool:
        """Whether a negative bank that applies to ``publisher`` vouches for this hash."""
        with self._lock:
            banks = [b for b in self._banks.values()
                     if b.kind == "negative" and (b.publisher is None or b.publisher == publisher)]
            return bool(self._hits(pdq, banks, first_only=True))

    def _hits(self, pdq: str, banks: list[BankInfo], *, first_only: bool) -> list[Hit]:
        hits = []
        for bank in sorted(banks, key=lambda b: b.id):
            index = self._indexes.get(bank.id)
            found = index.search(pdq, bank.distance) if index is not None and len(index) else []
            if found:  # sorted by distance, then index id (so by entry id): the nearest entry, whichever hash
                index_id, distance = found[0]
                hits.append(Hit(bank, self._entries[entry_of(index_id)], distance))
                if first_only:
                    break
        return hits

    def match(self, doc: Document, publisher: str) -> tuple[list[Vote], bool]:
        """One vote per (media item, matched bank); blocked when any matched entry's action is block."""
        votes: list[Vote] = []
        blocked = False
        for media in doc.media:
            if not media.pdq:
                continue
            _, hits = self.search(media.pdq, publisher)
            for hit in hits:
                votes.append(_vote(media.index, media.id, media.pdq, hit))
                blocked = blocked or hit.entry.action == "block"
        return votes, blocked


_ACTOR_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _slim(entry: EntryInfo) -> EntryInfo:
    """The entry as kept in memory: no own hash (the index has it), shared strings and actor tuples.

    Variants are kept (few entries have them): a changed variant set re-indexes the entry.
    """
    actors = _ACTOR_TUPLES.setdefault(entry.actors, entry.actors) if len(_ACTOR_TUPLES) < 10_000 else entry.actors
    return EntryInfo(entry.id, entry.bank_id, "", _shared(entry.label), _shared(entry.severity), actors,
                     sys.intern(entry.action), entry.variants if type(entry.variants) is tuple else tuple(entry.variants))


def _shared(value: str | None) -> str | None:
    return sys.intern(value) if value is not None else None


def confidence(distance: int, max_distance: int) -> float:
    """1.0 for an exact copy, MIN_HASH_CONFIDENCE at the bank's distance."""
    if max_distance <= 0:
        return 1.0
    return round(1.0 - (1.0 - MIN_HASH_CONFIDENCE) * min(distance, max_distance) / max_distance, 4)


def evidence_source(bank: str, entry_id: int, distance: int) -> str:
    """``hash:<bank>:<entry id>:d=<distance>``: what a hash label's evidence names."""
    return f"hash:{bank}:{entry_id}:d={distance}"


def parse_evidence_source(source: str) -> tuple[str, int, int] | None:
    """(bank, entry id, distance) of a hash evidence source, else None."""
    parts = source.split(":")
    if len(parts) != 4 or parts[0] != "hash" or not parts[3].startswith("d="):
        return None
    try:
        return parts[1], int(parts[2]), int(parts[3][2:])
    except ValueError:
        return None


def _vote(index: int, media_id: str, pdq: str, hit: Hit) -> HashVote:
    entry = hit.entry
    evidence = Evidence(f"media[{index}].pdq", 0, len(pdq), pdq, evidence_source(hit.bank.name, entry.id, hit.distance))
    return HashVote(
        name=entry.label or "",
        confidence=confidence(hit.distance, hit.bank.distance),
        severity=entry.severity,
        actors=list(entry.actors),
        evidence=[evidence],
        media_ids=[media_id],
        action=entry.action,
        bank=hit.bank.name,
        entry_id=entry.id,
        distance=hit.distance,
    )
