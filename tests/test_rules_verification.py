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
])
def test_verification_cues(rules, body):
    assert flagged(rules, body)


@pytest.mark.parametrize("body", [
    "The ministry released the footage, which has been verified by independent analysts.",
    "Police confirmed the identity of the suspect on Tuesday.",
    "The man allegedly stole two cars, prosecutors said.",
    "The company reported record quarterly profits.",
])
def test_confirmed_or_plain_statements_are_not_unverified(rules, body):
    assert not flagged(rules, body)
