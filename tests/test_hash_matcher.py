"""BankMatcher: per-bank distance, publisher scope, negative banks, votes and evidence (no database)."""

from __future__ import annotations

import random

import pytest

from classifiers.document import build_document
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
