"""HashIndex: the multi-index search returns exactly the brute-force answer, and add/remove behave.

Answers are also checked against a pure-Python reference (``int.bit_count``),
so the shared popcount code is not trusted blindly.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from classifiers.hashing import HashIndex, hamming_distance

DISTANCES = (0, 1, 8, 15, 16, 17, 31, 32, 40, 47, 48, 64, 128, 256)

hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)


def flip_bits(hash_hex: str, bits: list[int]) -> str:
    raw = bytearray.fromhex(hash_hex)
    for bit in bits:
        raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


def reference(entries: dict[int, str], query: str, max_distance: int) -> list[tuple[int, int]]:
    found = [(entry_id, hamming_distance(query, h)) for entry_id, h in entries.items()]
    return sorted(((i, d) for i, d in found if d <= max_distance), key=lambda m: (m[1], m[0]))


def probing_index(tail_limit: int = 16) -> HashIndex:
    """An index that probes even when tiny and merges its tail often."""
    return HashIndex(brute_force_below=0, tail_limit=tail_limit, probe_fraction=1e9)


@st.composite
def clustered_bank(draw: st.DrawFn) -> list[str]:
    """Random hashes plus variants of a few of them, so distances straddle every threshold."""
    bases = draw(st.lists(hashes, min_size=1, max_size=20))
    rng = random.Random(draw(st.integers(0, 2**32)))
    bank = list(bases)
    for _ in range(draw(st.integers(0, 120))):
        k = rng.choice([0, 1, 2, 5, 15, 16, 17, 30, 31, 32, 33, 47, 48, 60])
        bank.append(flip_bits(rng.choice(bases), rng.sample(range(256), k)))
    return bank


def assert_exact(index: HashIndex, entries: dict[int, str], query: str, max_distance: int) -> None:
    probed = index.search(query, max_distance)
    if max_distance < 48 and len(index) > 0:
        assert index.last_plan == "probe"
    assert probed == index.search_brute(query, max_distance) == reference(entries, query, max_distance)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bank=st.lists(hashes, max_size=200),
    queries=st.lists(hashes, min_size=1, max_size=5),
    tail_limit=st.integers(1, 64),
)
def test_random_hashes_search_equals_brute_force(bank: list[str], queries: list[str], tail_limit: int) -> None:
    index = probing_index(tail_limit)
    index.add(range(len(bank)), bank)
    entries = dict(enumerate(bank))
    for query in queries + bank[:3]:
        for max_distance in DISTANCES:
            assert_exact(index, entries, query, max_distance)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bank=clustered_bank(), data=st.data(), tail_limit=st.integers(1, 64))
def test_near_duplicate_queries_search_equals_brute_force(
    bank: list[str], data: st.DataObject, tail_limit: int
) -> None:
    index = probing_index(tail_limit)
    # Added in several batches so both the sorted segment and the tail hold entries.
    cut = data.draw(st.integers(0, len(bank)))
    index.add(range(cut), bank[:cut])
    index.add(range(cut, len(bank)), bank[cut:])
    entries = dict(enumerate(bank))
    for _ in range(4):
        source = data.draw(st.sampled_from(bank))
        k = data.draw(st.integers(0, 40))
        bits = data.draw(st.lists(st.integers(0, 255), min_size=k, max_size=k, unique=True))
        query = flip_bits(source, bits)
        for max_distance in DISTANCES:
            assert_exact(index, entries, query, max_distance)
        found = dict(index.search(query, 31))
        if k <= 31:  # the entry the query was made from is always found
            assert any(found.get(i) == k for i, h in entries.items() if h == source)


class IndexMachine(RuleBasedStateMachine):
    """Random interleavings of add, remove and search, checked against a dict."""

    ids = Bundle("ids")

    @initialize()
    def setup(self) -> None:
        self.index = probing_index(tail_limit=8)
        self.model: dict[int, str] = {}
        self.next_id = 0

    @rule(target=ids, batch=st.lists(hashes, min_size=1, max_size=12))
    def add(self, batch: list[str]) -> object:
        new_ids = list(range(self.next_id, self.next_id + len(batch)))
        self.next_id += len(batch)
        self.index.add(new_ids, batch)
        self.model.update(zip(new_ids, batch))
        return multiple(*new_ids)

    @rule(entry_id=ids)
    def remove(self, entry_id: int) -> None:
        if entry_id in self.model:
            self.index.remove(entry_id)
            del self.model[entry_id]
        else:
            with pytest.raises(KeyError):
                self.index.remove(entry_id)

    @rule(entry_id=ids, h=hashes)
    def add_existing_or_removed_id(self, entry_id: int, h: str) -> None:
        if entry_id in self.model:
            with pytest.raises(ValueError):
                self.index.add([entry_id], [h])
        else:
            self.index.add([entry_id], [h])
            self.model[entry_id] = h

    @rule(data=st.data(), max_distance=st.sampled_from(DISTANCES))
    def search(self, data: st.DataObject, max_distance: int) -> None:
        if self.model and data.draw(st.booleans()):
            source = data.draw(st.sampled_from(sorted(self.model.values())))
            query = flip_bits(source, data.draw(st.lists(st.integers(0, 255), max_size=40, unique=True)))
        else:
            query = data.draw(hashes)
        assert self.index.search(query, max_distance) == reference(self.model, query, max_distance)
        assert self.index.search_brute(query, max_distance) == reference(self.model, query, max_distance)

    @invariant()
    def sizes_agree(self) -> None:
        assert len(self.index) == len(self.model)
        for entry_id in list(self.model)[:5]:
            assert entry_id in self.index


TestIndexMachine = IndexMachine.TestCase
TestIndexMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


def _random_bank(n: int, seed: int) -> list[str]:
    raw = np.random.default_rng(seed).bytes(32 * n).hex()
    return [raw[i * 64 : (i + 1) * 64] for i in range(n)]


def test_default_index_probes_at_scale() -> None:
    """20,000 entries with default settings: the probe path is taken and is exact."""
    bank = _random_bank(20_000, seed=7)
    index = HashIndex()
    index.add(range(len(bank)), bank)
    rng = random.Random(7)
    for _ in range(30):
        source = rng.randrange(len(bank))
        k = rng.randrange(41)
        query = flip_bits(bank[source], rng.sample(range(256), k))
        result = index.search(query)
        assert index.last_plan == "probe"
        assert result == index.search_brute(query)
        assert ((source, k) in result) == (k <= 31)


def test_add_remove_and_len() -> None:
    bank = _random_bank(50, seed=1)
    index = probing_index(tail_limit=10)
    assert len(index) == 0 and index.search(bank[0]) == []
    index.add(range(30), bank[:30])  # merged into the sorted segment
    index.add(range(30, 35), bank[30:35])  # stays in the tail
    assert len(index) == 35
    assert index.search(bank[3], 0) == [(3, 0)]
    assert index.search(bank[32], 0) == [(32, 0)]

    index.remove(3)  # from the sorted segment
    index.remove(32)  # from the tail
    assert len(index) == 33
    assert 3 not in index and 32 not in index and 4 in index
    assert index.search(bank[3], 0) == [] and index.search(bank[32], 0) == []
    with pytest.raises(KeyError):
        index.remove(3)
    with pytest.raises(KeyError):
        index.remove(999)

    index.add([3], [bank[40]])  # an id can be reused once removed
    assert index.search(bank[40], 0) == [(3, 0)]
    assert index.search(bank[3], 0) == []


def test_duplicate_ids_are_refused_and_leave_index_unchanged() -> None:
    bank = _random_bank(10, seed=2)
    index = HashIndex()
    index.add([1, 2, 3], bank[:3])
    with pytest.raises(ValueError, match="already"):
        index.add([4, 2], bank[3:5])
    with pytest.raises(ValueError, match="twice"):
        index.add([5, 5], bank[5:7])
    with pytest.raises(ValueError):
        index.add([6, 7], [bank[7], "not a hash"])
    with pytest.raises(ValueError):
        index.add([8], bank[8:10])
    assert len(index) == 3 and 4 not in index and 6 not in index


def test_same_hash_under_several_ids_sorted_by_distance_then_id() -> None:
    base = _random_bank(1, seed=3)[0]
    near = flip_bits(base, [0, 1])
    index = probing_index()
    index.add([30, 10, 20, 5], [base, base, near, near])
    assert index.search(base, 2) == [(10, 0), (30, 0), (5, 2), (20, 2)]


def test_many_removals_compact_the_segment() -> None:
    bank = _random_bank(6_000, seed=4)
    index = HashIndex(brute_force_below=0)
    index.add(range(len(bank)), bank)
    for entry_id in range(0, 6_000, 3):  # 2,000 removals: more than a quarter, forces a rebuild
        index.remove(entry_id)
    assert len(index) == 4_000
    assert len(index._main) < 6_000  # tombstones were dropped
    for entry_id in (0, 1, 2, 2_999, 5_999):
        expected = [] if entry_id % 3 == 0 else [(entry_id, 0)]
        assert index.search(bank[entry_id], 0) == expected
        assert index.search(bank[entry_id]) == index.search_brute(bank[entry_id])


def test_uppercase_hex_is_accepted() -> None:
    h = _random_bank(1, seed=5)[0]
    index = HashIndex()
    index.add([1], [h.upper()])
    assert index.search(h) == [(1, 0)]


@pytest.mark.parametrize("max_distance", [-1, 257])
def test_out_of_range_distance_is_refused(max_distance: int) -> None:
    with pytest.raises(ValueError):
        HashIndex().search("0" * 64, max_distance)


def test_non_integer_distance_and_ids_are_refused() -> None:
    with pytest.raises(TypeError):
        HashIndex().search("0" * 64, 3.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HashIndex().add(["a"], ["0" * 64])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        HashIndex().search("0" * 63)
