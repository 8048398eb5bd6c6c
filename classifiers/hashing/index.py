"""Exact Hamming-radius search over 256-bit (PDQ) hashes.

:class:`HashIndex` answers "every entry within ``d`` bits of this hash" exactly,
with multi-index hashing (Norouzi, Punjani & Fleet, 2012):

* the 256 bits are cut into 16 chunks of 16 bits;
* if two hashes differ in at most ``d`` bits, then by pigeonhole some chunk
  differs in at most ``r = d // 16`` bits (for the usual ``d = 31``: ``r = 1``);
* so the candidates are the entries whose chunk ``c`` equals the query's chunk
  ``c`` or one of its neighbours within ``r`` bits (17 values per chunk for
  ``r = 1``), for each of the 16 chunks;
* each candidate's true distance is then computed with a vectorised popcount
  over four 64-bit words, which removes every false positive.

Per chunk, the entries are kept sorted by chunk value (``perm``) with bucket
boundaries for all 65,536 values (``offsets``), so a probe is two array reads.
When probing would touch too many entries (large ``d`` or pathological data),
the main segment is scanned by brute force instead; both paths return the same
set.

New entries go to a small unsorted *tail* that is always brute-forced; when it
outgrows its limit it is merged with the sorted segment in one O(n) rebuild
(radix argsort), which also drops removed entries. Removal marks a tombstone.

Ids are any int64 values; ``BankMatcher`` gives each entry the 64 ids
``entry * 64 + slot`` (slot 0 its own hash, the others its variant hashes), so
an entry's variants are indexed and searched exactly like its own hash.

Not thread-safe: guard mutations (and reads concurrent with them) with a lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from classifiers.hashing.pdq import HASH_BYTES, HASH_HEX_CHARS, MATCH_DISTANCE, parse_hash_hex

WORDS = HASH_BYTES // 8  # uint64 words per hash
CHUNKS = 16  # chunks per hash for multi-index hashing
CHUNK_VALUES = 1 << 16  # distinct values of a 16-bit chunk
MAX_PROBE_RADIUS = 2  # beyond d = 47, probing costs more than scanning
BRUTE_BLOCK_ROWS = 32_768  # rows per block of a brute-force scan (keeps temporaries in cache)

Match = tuple[int, int]  # (id, distance)

if hasattr(np, "bitwise_count"):  # numpy >= 2.0

    def _popcount(words: np.ndarray) -> np.ndarray:
        return np.bitwise_count(words)

else:  # pragma: no cover - numpy 1.x
    _BYTE_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)

    def _popcount(words: np.ndarray) -> np.ndarray:
        counts = _BYTE_POPCOUNT[words.view(np.uint8)]
        return counts.reshape(words.shape + (8,)).sum(axis=-1, dtype=np.uint8)


def distances(words: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance (uint16) from each row of ``words`` (k x 4 uint64) to ``query`` (4 uint64)."""
    counts = _popcount(words ^ query)
    return counts[:, 0].astype(np.uint16) + counts[:, 1] + counts[:, 2] + counts[:, 3]


def hashes_to_words(hashes_hex: Sequence[str]) -> np.ndarray:
    """Parse hex PDQ hashes into a (n, 4) uint64 array; raises ``ValueError`` naming a bad one."""
    count = len(hashes_hex)
    if count == 0:
        return np.empty((0, WORDS), dtype=np.uint64)
    try:  # fast path: one C-level join and decode (join refuses non-strings)
        if set(map(len, hashes_hex)) == {HASH_HEX_CHARS}:
            raw = bytes.fromhex("".join(hashes_hex))
            if len(raw) == count * HASH_BYTES:  # fromhex skips whitespace
                return np.frombuffer(raw, dtype=np.uint64).reshape(count, WORDS).copy()
    except (TypeError, ValueError):
        pass
    # Slow path, only to report which hash is malformed.
    for position, hash_hex in enumerate(hashes_hex):
        try:
            parse_hash_hex(hash_hex)
        except ValueError as exc:
            raise ValueError(f"hash #{position}: {exc}") from None
    raise ValueError("malformed hashes")  # pragma: no cover - unreachable


def _probe_masks(radius: int) -> np.ndarray:
    """All 16-bit XOR masks with at most ``radius`` bits set."""
    values = np.arange(CHUNK_VALUES, dtype=np.uint32)
    ones = _popcount(values.astype(np.uint64))
    return values[ones <= radius].astype(np.int64)


_PROBE_MASKS = [_probe_masks(radius) for radius in range(MAX_PROBE_RADIUS + 1)]
_CHUNK_BASE = (np.arange(CHUNKS, dtype=np.int64) * (CHUNK_VALUES + 1))[:, None]


class _SortedSegment:
    """The bulk of the index: hashes, ids and tombstones, plus per-chunk sorted orders.

    ``perm[c * n : (c + 1) * n]`` lists row numbers sorted by chunk ``c``;
    ``offsets[c * 65537 + v]`` is the position in ``perm`` where chunk ``c``'s
    bucket for value ``v`` starts (and ``v + 1``'s entry is where it ends).
    ``id_order`` sorts ``ids``, for id lookups. Ids here are unique.
    """

    def __init__(self, ids: np.ndarray, words: np.ndarray) -> None:
        n = len(ids)
        self.ids = ids
        self.words = words
        self.alive = np.ones(n, dtype=bool)
        self.dead = 0
        self.id_order = np.argsort(ids, kind="stable")
        self.sorted_ids = ids[self.id_order]
        self.perm = np.empty(CHUNKS * n, dtype=np.int32 if n < 2**31 else np.int64)
        self.offsets = np.empty(CHUNKS * (CHUNK_VALUES + 1), dtype=np.int64)
        chunks = words.view(np.uint16)  # (n, 16); byte order is irrelevant to Hamming distance
        for c in range(CHUNKS):
            column = np.ascontiguousarray(chunks[:, c])
            self.perm[c * n : (c + 1) * n] = np.argsort(column, kind="stable")  # radix sort
            bounds = self.offsets[c * (CHUNK_VALUES + 1) : (c + 1) * (CHUNK_VALUES + 1)]
            bounds[0] = c * n
            np.cumsum(np.bincount(column, minlength=CHUNK_VALUES), out=bounds[1:])
            bounds[1:] += c * n

    def __len__(self) -> int:
        return len(self.ids)

    def row_of(self, ids: np.ndarray) -> np.ndarray:
        """Row of each id, or -1 where the id is absent (removed rows still count)."""
        if len(self.ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted_ids, ids), len(self.ids) - 1)
        return np.where(self.sorted_ids[pos] == ids, self.id_order[pos], -1)

    def is_live(self, ids: np.ndarray) -> np.ndarray:
        """Whether each id has a row here that has not been removed."""
        rows = self.row_of(ids)
        found = rows >= 0
        found[found] = self.alive[rows[found]]
        return found

    def candidate_positions(self, query: np.ndarray, radius: int, limit: int) -> np.ndarray | None:
        """Positions in ``perm`` of all probed entries, or None if more than ``limit``."""
        query_chunks = query.view(np.uint16).astype(np.int64)
        probes = (query_chunks[:, None] ^ _PROBE_MASKS[radius][None, :]) + _CHUNK_BASE
        starts = self.offsets[probes].ravel()
        lengths = self.offsets[probes + 1].ravel() - starts
        total = int(lengths.sum())
        if total > limit:
            return None
        hit = lengths > 0
        starts, lengths = starts[hit], lengths[hit]
        first_of_run = np.cumsum(lengths) - lengths
        return np.repeat(starts - first_of_run, lengths) + np.arange(total)

    def search_probe(
        self, query: np.ndarray, max_distance: int, positions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, distances) of the live probed entries within ``max_distance``."""
        rows = self.perm[positions]
        dist = distances(self.words[rows], query)
        keep = dist <= max_distance
        rows, dist = rows[keep], dist[keep]
        rows, first = np.unique(rows, return_index=True)  # a row can be probed via several chunks
        dist = dist[first]
        live = self.alive[rows]
        return self.ids[rows[live]], dist[live]

    def search_brute(self, query: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, distances) of the live entries within ``max_distance``, by scanning in blocks."""
        found_rows, found_dist = [], []
        for start in range(0, len(self.ids), BRUTE_BLOCK_ROWS):
            dist = distances(self.words[start : start + BRUTE_BLOCK_ROWS], query)
            hit = np.flatnonzero(dist <= max_distance)
            found_rows.append(hit + start)
            found_dist.append(dist[hit])
        if not found_rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint16)
        rows, dist = np.concatenate(found_rows), np.concatenate(found_dist)
        live = self.alive[rows]
        return self.ids[rows[live]], dist[live]


class HashIndex:
    """A mutable set of (id, 256-bit hash) entries searchable by Hamming radius.

    Holds a :class:`_SortedSegment` with most entries and an unsorted tail
    (``_tail_ids`` / ``_tail_words``, the first ``_tail_len`` rows are in use)
    of recent additions. Ids are integers (int64), unique among live entries.

    ``brute_force_below``: indexes smaller than this are always scanned.
    ``tail_limit``: tail size that triggers a merge (default: adaptive, 1/32
    of the sorted segment, between 1,024 and 32,768).
    ``probe_fraction``: scan instead of probing when the probes would touch
    more than this fraction of the sorted segment.
    """

    def __init__(
        self,
        *,
        brute_force_below: int = 4096,
        tail_limit: int | None = None,
        probe_fraction: float = 0.1,
    ) -> None:
        self.brute_force_below = brute_force_below
        self.tail_limit = tail_limit
        self.probe_fraction = probe_fraction
        self._main = _SortedSegment(np.empty(0, dtype=np.int64), np.empty((0, WORDS), dtype=np.uint64))
        self._tail_ids = np.empty(64, dtype=np.int64)
        self._tail_words = np.empty((64, WORDS), dtype=np.uint64)
        self._tail_len = 0
        self.last_plan = ""  # "probe" or "brute": how the last search covered the sorted segment

    def __len__(self) -> int:
        return len(self._main) - self._main.dead + self._tail_len

    def __contains__(self, entry_id: object) -> bool:
        if not isinstance(entry_id, (int, np.integer)) or isinstance(entry_id, bool):
            return False
        return self._locate(int(entry_id)) is not None

    def add(self, ids: Iterable[int], hashes_hex: Sequence[str]) -> None:
        """Add entries; raises ``ValueError`` on a malformed hash or an id already present."""
        id_array = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids)
        if id_array.size and not np.issubdtype(id_array.dtype, np.integer):
            raise ValueError("ids must be 64-bit integers")
        id_array = id_array.astype(np.int64, copy=False).ravel()
        if len(id_array) != len(hashes_hex):
            raise ValueError(f"{len(id_array)} ids but {len(hashes_hex)} hashes")
        words = hashes_to_words(hashes_hex)
        if len(id_array) == 0:
            return
        sorted_ids = np.sort(id_array)
        repeated = sorted_ids[1:] == sorted_ids[:-1]
        if repeated.any():
            raise ValueError(f"id {int(sorted_ids[1:][repeated][0])} appears twice in one add()")
        present = self._main.is_live(id_array) | np.isin(id_array, self._tail_ids[: self._tail_len])
        if present.any():
            raise ValueError(f"id {int(id_array[present][0])} is already in the index")
        self._append_tail(id_array, words)
        if self._tail_len > self._tail_capacity_limit():
            self._merge()

    def remove(self, entry_id: int) -> None:
        """Remove the entry with this id; raises ``KeyError`` if there is none."""
        where = self._locate(int(entry_id))
        if where is None:
            raise KeyError(entry_id)
        segment, row = where
        if segment == "main":
            self._main.alive[row] = False
            self._main.dead += 1
            if self._main.dead > max(1024, len(self._main) // 4):
                self._merge()
        else:  # swap the last tail row into the hole
            last = self._tail_len - 1
            self._tail_ids[row] = self._tail_ids[last]
            self._tail_words[row] = self._tail_words[last]
            self._tail_len = last

    def search(self, hash_hex: str, max_distance: int = MATCH_DISTANCE) -> list[Match]:
        """Entries within ``max_distance`` bits, as (id, distance) sorted by distance then id."""
        query, max_distance = self._query(hash_hex, max_distance)
        radius = max_distance // CHUNKS
        main = self._main
        positions = None
        if len(main) >= self.brute_force_below and radius <= MAX_PROBE_RADIUS:
            positions = main.candidate_positions(query, radius, int(self.probe_fraction * len(main)))
        if positions is None:
            self.last_plan = "brute"
            main_ids, main_dist = main.search_brute(query, max_distance)
        else:
            self.last_plan = "probe"
            main_ids, main_dist = main.search_probe(query, max_distance, positions)
        return self._finish(query, max_distance, main_ids, main_dist)

    def search_brute(self, hash_hex: str, max_distance: int = MATCH_DISTANCE) -> list[Match]:
        """Same answer as :meth:`search`, by scanning every entry."""
        query, max_distance = self._query(hash_hex, max_distance)
        main_ids, main_dist = self._main.search_brute(query, max_distance)
        return self._finish(query, max_distance, main_ids, main_dist)

    # -- internals ---------------------------------------------------------

    @staticmethod
    def _query(hash_hex: str, max_distance: int) -> tuple[np.ndarray, int]:
        if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)):
            raise TypeError("max_distance must be an integer")
        if not 0 <= max_distance <= HASH_BYTES * 8:
            raise ValueError(f"max_distance must be between 0 and {HASH_BYTES * 8}")
        return np.frombuffer(parse_hash_hex(hash_hex), dtype=np.uint64), int(max_distance)

    def _finish(self, query: np.ndarray, max_distance: int, ids: np.ndarray, dist: np.ndarray) -> list[Match]:
        """Add the tail's matches, sort by (distance, id), convert to Python ints."""
        if self._tail_len:
            tail_dist = distances(self._tail_words[: self._tail_len], query)
            hit = np.flatnonzero(tail_dist <= max_distance)
            ids = np.concatenate([ids, self._tail_ids[hit]])
            dist = np.concatenate([dist, tail_dist[hit]])
        order = np.lexsort((ids, dist))
        return list(zip(ids[order].tolist(), dist[order].tolist()))

    def _locate(self, entry_id: int) -> tuple[str, int] | None:
        try:
            key = np.array([entry_id], dtype=np.int64)
        except OverflowError:
            return None
        row = int(self._main.row_of(key)[0])
        if row >= 0 and self._main.alive[row]:
            return "main", row
        tail_rows = np.flatnonzero(self._tail_ids[: self._tail_len] == entry_id)
        if len(tail_rows):
            return "tail", int(tail_rows[0])
        return None

    def _tail_capacity_limit(self) -> int:
        if self.tail_limit is not None:
            return self.tail_limit
        return min(32_768, max(1024, len(self._main) // 32))

    def _append_tail(self, ids: np.ndarray, words: np.ndarray) -> None:
        needed = self._tail_len + len(ids)
        if needed > len(self._tail_ids):
            capacity = max(needed, 2 * len(self._tail_ids))
            self._tail_ids = np.resize(self._tail_ids, capacity)
            self._tail_words = np.resize(self._tail_words, (capacity, WORDS))
        self._tail_ids[self._tail_len : needed] = ids
        self._tail_words[self._tail_len : needed] = words
        self._tail_len = needed

    def _merge(self) -> None:
        """Rebuild the sorted segment from its live rows plus the tail; empty the tail."""
        main = self._main
        ids = np.concatenate([main.ids[main.alive], self._tail_ids[: self._tail_len]])
        words = np.concatenate([main.words[main.alive], self._tail_words[: self._tail_len]])
        self._main = _SortedSegment(ids, words)
        self._tail_ids = np.empty(64, dtype=np.int64)
        self._tail_words = np.empty((64, WORDS), dtype=np.uint64)
        self._tail_len = 0
