import pytest

from classifiers.document import build_document
from classifiers.rules.stage import RuleStage


@pytest.fixture(scope="module")
def rules():
    return RuleStage()


def flagged(rules, body):
    return "unverified" in rules.run(build_document({"body": body})).votes


@pytest.mark.parametrize("body", [
    "The footage purportedly shows soldiers crossing the river.",
    "The video could not be independently verified by the BBC.",
    "Unconfirmed footage circulating online appears to show a burning tank.",
    "The authenticity of the recording could not be established, and its origin is unclear.",
    "The claim could not be confirmed.",
    # wire wording: the claim is still being checked, or reports conflict
    "Iraq's government was scrambling on Sunday to confirm whether the aide had been captured.",
    "Diplomats investigated a report of the abduction, but a conflicting report said there was no kidnapping.",
    "There was confusion over the report, as the defence minister called it baseless.",
])
def test_verification_cues(rules, body):
    assert flagged(rules, body)


@pytest.mark.parametrize("body", [
    "The ministry released the footage, which has been verified by independent analysts.",
    "Police confirmed the identity of the suspect on Tuesday.",
    "The man allegedly stole two cars, prosecutors said.",
    "The company reported record quarterly profits.",
    "IBM argues that SCO has no evidence to support its claims.",  # one party's argument, not a doubt the publisher states
])
def test_confirmed_or_plain_statements_are_not_unverified(rules, body):
    assert not flagged(rules, body)


@pytest.mark.parametrize("body", [
    # doubt composed from a negation and a verb of checking, about material or a claim
    "The Israeli military did not comment on the video, whose provenance we could not establish.",
    "Neither side's account could be checked.",
    "Her family said nothing in the images established when they were filmed.",
    "Officials said they had not yet determined whether the voice on the tape was his.",
    "The video surfaced on social media and could not be independently authenticated.",
    # the material named in the sentence before
    "The four-minute clip ends with a warning to Israel. The location could not be determined.",
    "It is not possible to know under what circumstances the footage was recorded.",
])
def test_composed_doubt_about_material(rules, body):
    assert flagged(rules, body), body


@pytest.mark.parametrize("body", [
    # an omission in someone's statement, or a check about something that is no material or claim
    "The statement did not say whether anyone was killed.",
    "The company did not confirm the deal.",
    "Analysts said the voice did not match any previously known spokesman.",
    "Investigators have not determined the cause of the fire.",
])
def test_omissions_and_open_questions_are_not_doubt(rules, body):
    assert not flagged(rules, body), body


def test_a_fact_check_that_found_the_material_fake_is_not_unverified(rules):
    body = ("Screenshots shared on Facebook purporting to show a statement from a militant group are fabricated. "
            "The format does not match the group's. Verdict: False.")
    assert not flagged(rules, "Fact check: " + body)
    # an open verdict leaves the doubt
    assert flagged(rules, "Fact check: a video purporting to show the strike has unclear origins. Verdict: Unproven.")


def test_a_phrase_cue_keeps_its_weight_beside_a_composed_doubt(rules):
    vote = rules.run(build_document({"body": "The video has not been independently verified."})).votes["unverified"]
    assert vote.confidence == 0.85
