"""Media metadata: each media field analysed on its own, credits and source URLs read against
data/media_sources.json, ``type: media`` items, and before_media disclaimers naming flagged media."""

from __future__ import annotations

import pytest

from classifiers.document import build_document
from classifiers.pipeline import Moderator
from classifiers.rules.media_sources import MediaSources, default_media_sources
from classifiers.rules.stage import RuleStage


@pytest.fixture(scope="module")
def rules():
    return RuleStage()


@pytest.fixture(scope="module")
def moderator():
    return Moderator()  # rule stage only: decisions do not depend on the learned model


def ext_vote(rules, **media):
    doc = build_document({"type": "media", "media": [{"id": "m1", **media}]})
    return rules.run(doc).votes.get("extremist_source")


def test_every_media_field_is_its_own_field():
    doc = build_document({"type": "media", "media": [{"id": "m1", "caption": "c", "alt_text": "a", "credit": "cr",
                                                      "source_url": "https://x.org/s", "url": "https://x.org/u"}]})
    assert [f.name for f in doc.fields] == ["media[0].caption", "media[0].alt_text", "media[0].credit",
                                            "media[0].source_url", "media[0].url"]
    assert {f.media_id for f in doc.fields} == {"m1"}


@pytest.mark.parametrize("credit,actor", [
    ("Wilayat Sinai Media Office", "Islamic State"),  # branches are reported as the parent
    ("Media Office of Wilayat Gharb Ifriqiya", "Islamic State"),
    ("Wilayat Ninawa information office", "Islamic State"),
    ("Ajnad Foundation", "Islamic State"),
    ("Dabiq", "Islamic State"),
    ("Photo: @Amaq_Agency2 via Telegram", "Islamic State"),
    ("Telegram / t.me/nashirnews", "Islamic State"),
])
def test_credit_naming_an_outlet_or_channel_is_attribution(rules, credit, actor):
    vote = ext_vote(rules, caption="A still image", credit=credit)
    assert vote is not None and actor in vote.actors, credit
    assert all(ev.field == "media[0].credit" for ev in vote.evidence)


@pytest.mark.parametrize("credit", ["Reuters", "AFP/Getty Images", "Knight Media Foundation", "Al Jazeera",
                                    "Courtesy of the Dabiq town council press office".replace("Dabiq ", "")])
def test_ordinary_credits_are_not_attribution(rules, credit):
    assert ext_vote(rules, caption="Smoke over the city", credit=credit) is None


def test_outlet_names_count_only_in_credits(rules):
    vote = rules.run(build_document({"body": "Residents of Dabiq returned home after the fighting."})).votes
    assert "extremist_source" not in vote


@pytest.mark.parametrize("url,actor", [
    ("https://t.me/amaq_agency/123", "Islamic State"),
    ("https://t.me/s/a3maq_news", "Islamic State"),
    ("https://t.me/terrorgramchat", "Terrorgram Collective"),
])
def test_source_url_handles_resolve_through_the_stems(rules, url, actor):
    vote = ext_vote(rules, source_url=url)
    assert vote is not None and vote.actors == [actor]
    ev = vote.evidence[0]
    assert ev.field == "media[0].source_url" and url[ev.start:ev.end] == ev.text


def test_ordinary_social_url_is_not_attribution(rules):
    assert ext_vote(rules, source_url="https://twitter.com/bbcworld/status/1") is None


def test_unknown_arabic_media_foundation_is_labelled_without_an_actor(moderator, rules):
    result = moderator.moderate({"type": "media", "media": [{"id": "m1", "caption": "A still from a video",
                                                              "credit": "al-Battar Media Foundation"}]})
    label = result["labels"][0]
    assert label["name"] == "extremist_source" and label["actors"] == []
    assert label["confidence"] < ext_vote(rules, credit="Ajnad Foundation").confidence
    assert result["decision"] in ("publish_with_disclaimers", "hold_for_review")
    assert any(d["placement"] == "before_media" and d["media_id"] == "m1" for d in result["disclaimers"])


def test_media_item_alone_is_labelled_with_field_paths_and_before_media_notices(moderator):
    result = moderator.moderate({"type": "media", "media": [
        {"id": "m1", "caption": "Children play in a park", "credit": "Reuters"},
        {"id": "m2", "caption": "Bodies lie in the street after the airstrike", "credit": "Wilayat Sinai Media Office"},
    ]})
    names = {lab["name"]: lab for lab in result["labels"]}
    assert set(names) == {"extremist_source", "graphic_violence"}
    assert {ev["field"] for ev in names["graphic_violence"]["evidence"]} == {"media[1].caption"}
    assert {ev["field"] for ev in names["extremist_source"]["evidence"]} == {"media[1].credit"}
    before = [(d["id"], d["media_id"]) for d in result["disclaimers"] if d["placement"] == "before_media"]
    assert sorted(before) == [("extremist_source_notice", "m2"), ("graphic_warning", "m2")]


def test_hash_votes_name_their_media_in_before_media_notices():
    from classifiers.base import Evidence
    from classifiers.hashing.matcher import HashVote

    class OneHit:
        """A test fake of the hash matcher: flags the second media item."""

        def match(self, doc, publisher):
            media = doc.media[1]
            ev = Evidence(f"media[{media.index}].pdq", 0, 64, media.pdq, "hash:test:1:d=0")
            return [HashVote("graphic_violence", 1.0, severity="extreme", evidence=[ev], media_ids=[media.id],
                             action="hold_for_review", bank="test", entry_id=1)], False

    pdq = "a5" * 32
    result = Moderator(hash_matcher=OneHit()).moderate({"type": "media", "media": [
        {"id": "m1", "caption": "A quiet street"}, {"id": "m2", "pdq": pdq}]})
    label = result["labels"][0]
    assert label["stages"] == ["hash"] and label["severity"] == "extreme"
    assert label["evidence"][0]["field"] == "media[1].pdq" and label["evidence"][0]["text"] == pdq
    assert result["decision"] == "hold_for_review"  # the entry asks for review, not a block
    before = [d["media_id"] for d in result["disclaimers"] if d["placement"] == "before_media"]
    assert before == ["m2"]


def test_data_file_names_only_known_actors():
    sources = default_media_sources()
    assert sources.stems and sources.outlets and sources.patterns
    with pytest.raises(ValueError, match="actors.json"):
        RuleStage(sources=MediaSources({"handle_stems": [{"stem": "x", "actor": "no_such_actor"}]}))


def test_rule_version_names_the_media_sources_file(rules):
    assert "+media-" in rules.version
