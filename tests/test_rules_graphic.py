"""Graphic cues with severity, bare counts and figurative use."""

import pytest

from classifiers.document import build_document
from classifiers.rules.stage import RuleStage


@pytest.fixture(scope="module")
def rules():
    return RuleStage()


def severity(rules, body, **extra):
    vote = rules.run(build_document({"body": body, **extra})).votes.get("graphic_violence")
    return vote.severity if vote else "none"


@pytest.mark.parametrize("body", [
    "The video shows the aftermath of the airstrikes, with bodies lying in the rubble.",
    "Photographs from the scene show pools of blood on the pavement outside the cafe.",
    "Bodies were strewn across the market after the car bomb exploded.",
    "Witnesses described charred bodies and severed limbs near the checkpoint.",
])
def test_depiction_is_graphic(rules, body):
    assert severity(rules, body) == "graphic"


@pytest.mark.parametrize("body", [
    "The militants released a video showing the beheading of a hostage.",
    "The footage shows prisoners being executed by gunmen at close range.",
    "The gunman livestreamed the attack on the mosque as he opened fire.",
])
def test_executions_and_killings_as_they_happen_are_extreme(rules, body):
    assert severity(rules, body) == "extreme"


@pytest.mark.parametrize("body", [
    "Three people died in the crash, police said.",
    "The death toll from the earthquake rose to 52, officials said on Monday.",
    "Two soldiers were killed and four wounded in an ambush, the army said.",
])
def test_bare_casualty_counts_are_not_graphic(rules, body):
    assert severity(rules, body) == "none"


@pytest.mark.parametrize("body", [
    "The startup's killer app helped it win investors.",
    "She studied graphic design before joining the agency.",
    "They are shooting a film about the war in Morocco this summer.",
    "The team executed the plan perfectly in the second half.",
    "The sequel was a box-office bomb despite its huge budget.",
    "It was a bloodbath on Wall Street as stocks fell 6 percent.",
    "The Lakers were massacred at home, losing by 40 points in the season opener.",
    "Doctors ran a blood test and checked his blood pressure.",
])
def test_figurative_language_is_not_graphic(rules, body):
    assert severity(rules, body) == "none"


def test_caption_describing_bodies_flags_the_media_item(rules):
    doc = build_document({"type": "media", "media": [{"id": "m1", "caption": "Bodies lie under blankets outside the hospital."}]})
    vote = rules.run(doc).votes["graphic_violence"]
    assert vote.evidence[0].field == "media[0].caption"


@pytest.mark.parametrize("body", [
    "Saudi Arabia carried out a record number of executions last year, a rights group said.",
    "Iran executed a man on Monday who was convicted of killing a guard, the judiciary said.",
    '"Now it is all about execution," the chief executive told analysts on a call.',
    "A clip shared online as footage of a drone being shot down over the border is from a video game.",
    "The European Commission launched graphic health warnings showing the damage smoking does.",
    "About 9,000 people with diabetes have a foot amputated each year, the study found.",
])
def test_counts_reports_and_figurative_uses_are_not_graphic(rules, body):
    assert severity(rules, body) == "none"


@pytest.mark.parametrize("body", [
    "She watched as soldiers lined up the men beside the stream and cut their throats one by one.",
    "The clip shows inmates stabbing a man on the floor of the cell block until he stops moving.",
    "The video shows a mob beating him to death while he pleads for water.",
])
def test_killings_described_as_they_happen_are_extreme(rules, body):
    assert severity(rules, body) == "extreme"


def test_close_up_corpses_are_extreme_and_blast_injuries_graphic(rules):
    caption = "A close-up of the body of a child, her face burnt, lying on the floor of a hospital morgue."
    assert severity(rules, "", media=[{"id": "m1", "type": "image", "caption": caption}]) == "extreme"
    assert severity(rules, "Witnesses said his body was mutilated by the blast and the tunnel caved in.") == "graphic"
    assert severity(rules, "Survivors described people with burnt skin hanging from their arms in the street.") == "graphic"


@pytest.mark.parametrize("body", [
    "The Supreme Court halted the recount. Vice-President Al Gore is expected to concede. Gore said he would speak.",
    "The footage includes the group's skull-mask logo and a swastika flag.",
    'He says he is carrying out the attack "to avenge the blood of our martyrs".',
])
def test_surnames_logos_and_rhetoric_are_not_graphic(rules, body):
    assert severity(rules, body) == "none", body


def test_title_case_headlines_keep_their_graphic_words(rules):
    assert severity(rules, "", title="Video Shows Slaughter Of Civilians In Village, Bodies In Street") != "none"
