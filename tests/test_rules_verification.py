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
