"""BankMatcher: per-bank distance, publisher scope, negative banks, variant hashes, votes and evidence (no database)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers.document import build_document
from classifiers.hashing import hamming_distance
from classifiers.hashing.matcher import BankInfo, BankMatcher, EntryInfo, confidence, parse_evidence_source


def flip(hash_hex: str, bits: int, seed: int = 0) -> str:
    raw = bytearray.fromhex(hash_hex)
    for bit in random.Random(seed).sample(range(256), bits):
        raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


BASE = random.Random(7).randbytes(32).hex()
OTHER = random.Random(8).randbytes(32).hex()


def doc(*pdqs: str | None):
    return build_document({"type": "media", "media": [{"id": f"m{i}", "pdq": p} for i, p in enumerate(pdqs)]})


@pytest.fixture
def matcher():
    m = BankMatcher()
    m.set_bank(BankInfo(1, "global-terror", None, "positive", 31))
    m.set_bank(BankInfo(2, "example-archive", "example-news", "negative", 31))
    m.set_bank(BankInfo(3, "strict", None, "positive", 4))
    m.put([EntryInfo(10, 1, BASE, "extremist_source", None, ("Islamic State",), "block"),
           EntryInfo(30, 3, OTHER, "graphic_violence", "extreme", (), "hold_for_review")])
    return m


def test_near_copy_matches_with_evidence_naming_bank_entry_and_distance(matcher):
    query = flip(BASE, 12)
    votes, blocked = matcher.match(doc(None, query), "other-news")
    assert blocked
    (vote,) = votes
    assert (vote.name, vote.actors, vote.media_ids, vote.action) == ("extremist_source", ["Islamic State"], ["m1"], "block")
    ev = vote.evidence[0]
    assert (ev.field, ev.start, ev.end, ev.text) == ("media[1].pdq", 0, 64, query)
    assert parse_evidence_source(ev.source) == ("global-terror", 10, 12)
    assert vote.confidence == confidence(12, 31)


def test_each_bank_has_its_own_distance(matcher):
    assert matcher.match(doc(flip(OTHER, 4)), "p")[0]
    votes, blocked = matcher.match(doc(flip(OTHER, 5)), "p")
    assert votes == [] and not blocked


def test_hold_entries_do_not_block(matcher):
    votes, blocked = matcher.match(doc(OTHER), "p")
    assert not blocked and votes[0].action == "hold_for_review" and votes[0].severity == "extreme"


def test_negative_bank_wins_for_its_publisher_only(matcher):
    matcher.put([EntryInfo(20, 2, flip(BASE, 3, seed=1), None, None, (), "allow")])
    assert matcher.match(doc(BASE), "example-news") == ([], False)
    assert matcher.match(doc(BASE), "other-news")[1] is True
    assert matcher.negative_hit(BASE, "example-news") and not matcher.negative_hit(BASE, "other-news")


def test_publisher_banks_apply_to_their_publisher_only(matcher):
    matcher.set_bank(BankInfo(4, "mine", "mine", "positive", 31))
    third = random.Random(9).randbytes(32).hex()
    matcher.put([EntryInfo(40, 4, third, "graphic_violence", "graphic", (), "block")])
    assert matcher.match(doc(third), "mine")[1] is True
    assert matcher.match(doc(third), "yours") == ([], False)


def test_discard_and_replace(matcher):
    matcher.discard([10, 999])
    assert matcher.match(doc(BASE), "p") == ([], False)
    matcher.put([EntryInfo(10, 1, BASE, "graphic_violence", "graphic", (), "hold_for_review")])
    matcher.put([EntryInfo(10, 1, BASE, "graphic_violence", "graphic", (), "block")])  # replaced, not duplicated
    votes, blocked = matcher.match(doc(BASE), "p")
    assert blocked and len(votes) == 1 and len(matcher) == 2


def test_media_without_a_hash_and_html_media_are_skipped(matcher):
    item = {"body": '<p>x</p><img src="https://cdn/a.jpg" alt="a">', "body_format": "html", "media": [{"id": "m0"}]}
    assert matcher.match(build_document(item), "p") == ([], False)


def test_unknown_bank_is_refused():
    with pytest.raises(KeyError):
        BankMatcher().put([EntryInfo(1, 99, BASE, "graphic_violence", "graphic", (), "block")])


# -- variant hashes -------------------------------------------------------------------------


def variant_entry(entry_id: int, base: str, seed: int, count: int = 6, bank_id: int = 1) -> EntryInfo:
    """An entry whose variants lie 40-70 bits from its own hash (as crops and rotations do)."""
    rng = random.Random(seed)
    variants = tuple(flip(base, rng.randint(40, 70), seed=seed * 100 + k) for k in range(count))
    return EntryInfo(entry_id, bank_id, base, "extremist_source", None, ("Islamic State",), "block", variants)


def test_a_query_near_a_variant_matches_the_entry_at_the_variants_distance(matcher):
    entry = variant_entry(50, random.Random(50).randbytes(32).hex(), seed=5)
    matcher.put([entry])
    assert len(matcher) == 3 and matcher.hash_count() == 3 + len(entry.variants)
    query = flip(entry.variants[3], 9, seed=77)
    assert hamming_distance(query, entry.pdq) > 31
    votes, blocked = matcher.match(doc(query), "p")
    (vote,) = votes
    assert blocked and vote.entry_id == 50 and vote.distance == 9
    assert parse_evidence_source(vote.evidence[0].source) == ("global-terror", 50, 9)  # the entry, never a variant


def test_discarding_an_entry_removes_its_variants_and_replacing_it_reindexes_them(matcher):
    entry = variant_entry(50, random.Random(51).randbytes(32).hex(), seed=6)
    matcher.put([entry])
    matcher.discard([50])
    assert matcher.hash_count() == 2 and matcher.match(doc(entry.variants[0]), "p") == ([], False)
    matcher.put([entry])
    fewer = entry._replace(variants=entry.variants[:2])
    matcher.put([fewer])  # the same entry with other variants: the old ones go
    assert matcher.hash_count() == 2 + 3
    assert matcher.match(doc(entry.variants[5]), "p") == ([], False)
    assert matcher.match(doc(entry.variants[1]), "p")[0][0].entry_id == 50


def test_too_many_variants_are_refused(matcher):
    entry = variant_entry(60, BASE, seed=1, count=64)
    with pytest.raises(ValueError):
        matcher.put([entry])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), near=st.booleans(), distance=st.sampled_from([0, 8, 15, 16, 31, 32, 40]))
def test_the_nearest_entry_over_all_variants_is_the_brute_force_answer(seed, near, distance):
    """Against a reference that scans every entry's own hash and variants with int.bit_count."""
    rng = random.Random(seed)
    m = BankMatcher()
    m.set_bank(BankInfo(1, "b", None, "positive", distance))
    entries = [variant_entry(i, rng.randbytes(32).hex(), seed=seed % 10_000 + i, count=rng.randint(0, 8))
               for i in range(1, rng.randint(2, 40))]
    m.put(entries)
    if near:
        target = rng.choice([h for e in entries for h in e.hashes()])
        query = flip(target, rng.randint(0, 40), seed=seed)
    else:
        query = rng.randbytes(32).hex()
    best = min(((min(hamming_distance(query, h) for h in e.hashes()), e.id) for e in entries))
    _, hits = m.search(query, "p")
    if best[0] <= distance:
        assert [(h.entry.id, h.distance) for h in hits] == [(best[1], best[0])]
    else:
        assert hits == []
