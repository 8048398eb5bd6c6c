"""Attribution versus mention: the extremist_source rules, with hard negatives."""

import pytest

from classifiers.document import build_document
from classifiers.rules.stage import RuleStage


@pytest.fixture(scope="module")
def rules():
    return RuleStage()


def ext(rules, body, **extra):
    vote = rules.run(build_document({"body": body, **extra})).votes.get("extremist_source")
    return vote.actors if vote else None


@pytest.mark.parametrize("body,actor", [
    ("A new video purportedly put out by the Islamic State shows its fighters in Raqqa.", "Islamic State"),
    ("The footage was released on ISIS channels late on Tuesday.", "Islamic State"),
    ("Islamic State militants released a video on Tuesday showing the group's fighters.", "Islamic State"),
    ("In a statement carried by its Amaq news agency, the group said it carried out the attack.", "Islamic State"),
    ("According to Amaq, the attackers were 'soldiers of the caliphate'.", "Islamic State"),
    ("Al-Shabaab claimed responsibility for the bombing in a post on a militant website.", "al-Shabaab"),
    ("An al-Shabaab video shows fighters training in southern Somalia.", "al-Shabaab"),
    ("The clip, which was posted on the group's Telegram channels, was attributed to Daesh.", "Islamic State"),
])
def test_attribution_is_found(rules, body, actor):
    actors = ext(rules, body)
    assert actors is not None, body
    assert actor in actors


@pytest.mark.parametrize("body", [
    "The Iraqi army released footage of airstrikes on ISIS positions near Mosul.",
    "The Pentagon said Islamic State fighters had been pushed out of the town.",
    "A UN report on al-Shabaab finances was published on Monday.",
    "The State Department designated the group a foreign terrorist organisation in 2004.",
    "The Hamas-run health ministry said in a statement that 40 people were killed.",
    "Coalition forces fighting ISIS released a video of the operation.",
    "Analysts say the Islamic State has lost most of its territory since 2017.",
    "No group has claimed responsibility for the attack, which officials blamed on al-Shabaab.",
    "The London-based newspaper reported the story in its weekend edition.",
    "Labour's manifesto promises more police officers.",
    # a leader or unnamed militants mentioned, not quoted
    "US forces killed Osama bin Laden in Abbottabad in 2011.",
    "Islamist militants killed 12 soldiers in an ambush, the army said.",
    "Police arrested three suspected Islamist militants in a raid on Tuesday.",
    "A biography of Zarqawi published this year traces his path from Jordan to Iraq.",
])
def test_reporting_about_a_group_is_not_attribution(rules, body):
    assert ext(rules, body) is None, body


def test_headline_in_capitals_does_not_read_IS_as_the_group(rules):
    assert ext(rules, "", title="THE VIDEO IS RELEASED BY THE STUDIO TODAY") is None


def test_media_credit_naming_an_outlet_is_attribution(rules):
    doc = build_document({"type": "media", "media": [{"id": "m1", "caption": "A still from the video", "credit": "Amaq News Agency"}]})
    vote = rules.run(doc).votes["extremist_source"]
    assert vote.actors == ["Islamic State"]
    assert vote.evidence[0].field == "media[0].credit"


def test_wire_credit_is_not_attribution(rules):
    doc = build_document({"type": "media", "media": [{"id": "m1", "caption": "Smoke over the city", "credit": "Reuters"}]})
    assert "extremist_source" not in rules.run(doc).votes


def test_attacker_manifesto_is_left_to_the_classifier(rules):
    """An attacker's material near the attacker is as often a mention as a source: a signal, not a vote."""
    doc = build_document({"body": "The gunman posted a manifesto online minutes before the attack on the mosque."})
    result, signals = rules.analyse(doc)
    assert "extremist_source" not in result.votes and signals.attribution > 0.5


@pytest.mark.parametrize("body,labels", [
    ("The group's videos have drawn fewer viewers since 2019, researchers said.", False),
    ("Islamic State's propaganda has moved to smaller platforms.", False),
    ("A new Islamic State video shows the aftermath of airstrikes on the town.", True),
    ("An al-Shabaab video shows fighters training in southern Somalia.", True),
])
def test_owning_a_kind_of_material_is_a_signal_and_owning_an_item_labels(rules, body, labels):
    assert (ext(rules, body) is not None) == labels, body


def test_lexicon_version_is_reported(rules):
    assert rules.version.startswith("actors-")


@pytest.mark.parametrize("body", [
    "A video released by 1S1S shows fighters in the desert.",
    "A video released by I S I S shows fighters in the desert.",
    "A video released by \u0406SIS shows fighters in the desert.",
    "A video released by IS\u200bIS shows fighters in the desert.",
    "A video released by &#73;SIS shows fighters in the desert.",
])
def test_evasions_still_resolve_the_actor(rules, body):
    fmt = "html" if "&#" in body else "text"
    vote = rules.run(build_document({"body": f"<p>{body}</p>" if fmt == "html" else body, "body_format": fmt})).votes.get("extremist_source")
    assert vote is not None and vote.actors == ["Islamic State"], body


@pytest.mark.parametrize("body,actor", [
    ("The Russian Imperial Movement, the group designated in 2020, has posted a video on its channel showing volunteers training.", "Russian Imperial Movement"),
    ("Britain banned The Base on Friday. The group responded in a long post on its Telegram channel.", "The Base"),
])
def test_material_on_the_groups_own_channel(rules, body, actor):
    assert actor in (ext(rules, body) or [])


def test_sharing_copies_of_a_groups_newsletter_is_not_attribution(rules):
    assert ext(rules, "He was jailed after a jury heard he had shared copies of an Islamic State newsletter.") is None


def test_a_branch_named_after_its_parent_is_reported_as_the_parent():
    from classifiers.document import build_document
    from classifiers.rules.stage import RuleStage

    result = RuleStage().run(build_document({"title": "", "body": "A video released by Islamic State West Africa Province shows the raid."}))
    vote = result.votes["extremist_source"]
    assert vote.actors == ["Islamic State"]
    assert "Islamic State West Africa Province" in vote.evidence[0].text


@pytest.mark.parametrize("body,actor", [
    # a leader's or spokesman's recording is the group's material
    ("In a videotape broadcast by al-Jazeera, Ayman al-Zawahiri said the US faced defeat.", "al-Qaeda"),
    ("Osama bin Laden's deputy proclaimed in a videotape broadcast Thursday that the US would be defeated.", "al-Qaeda"),
    ("A new audio message from Abu Bakr al-Baghdadi urged followers to keep fighting.", "Islamic State"),
    # a group the item does not name, known by its kind or by where it posted
    ("The kidnappers demanded a ransom, according to a statement posted on an Islamic Web site.", None),
    ("A video posted on a jihadist forum on Monday shows the hostage pleading for his life.", None),
    ("The Iraqi kidnappers of two engineers said in a video statement they would free them.", None),
])
def test_leaders_and_unnamed_militant_groups_are_attributed(rules, body, actor):
    """An unnamed group labels the item, but names no actor (the policy's actors are the groups identified)."""
    assert ext(rules, body) == ([actor] if actor else []), body


def test_a_named_group_is_reported_beside_an_unnamed_source(rules):
    body = "AQIM said in a statement posted on a jihadist forum that it held the two hostages."
    assert ext(rules, body) == ["al-Qaeda in the Islamic Maghreb"]
