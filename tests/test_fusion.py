"""Fusion of the rule and classifier votes: thresholds, the policy's rule veto and its short-item exception."""

import dataclasses

import pytest

from classifiers.base import StageResult, Vote
from classifiers.fusion import VETO_MIN_WORDS, fuse
from labels.policy import load_policy_set
from service.config import get_settings


@pytest.fixture(scope="module")
def policy():
    return load_policy_set(get_settings().policy_dir).policy


def stages(clf_score: float, words: int) -> list[StageResult]:
    rule = StageResult("rule", votes={"extremist_source": Vote("extremist_source", 0.85, actors=["Islamic State"])})
    clf = StageResult("classifier", scores={"extremist_source": clf_score, "graphic_violence": 0.0, "unverified": 0.0})
    clf.signals = {"words": words}
    return [rule, clf]


def names(labels: list[dict]) -> list[str]:
    return [lab["name"] for lab in labels]


def test_a_veto_in_the_policy_overrules_a_rule_on_a_long_item(policy):
    vetoing = dataclasses.replace(policy, rule_veto={**policy.rule_veto, "extremist_source": 0.5})
    assert names(fuse(stages(0.2, VETO_MIN_WORDS + 40), vetoing)) == []
    # a wire brief: the probability rests on a handful of n-grams, the rule stands
    assert names(fuse(stages(0.2, VETO_MIN_WORDS - 20), vetoing)) == ["extremist_source"]


def test_the_shipped_policy_lets_a_firing_rule_label_on_its_own(policy):
    labels = fuse(stages(0.05, 400), policy)
    assert names(labels) == ["extremist_source"]
    assert labels[0]["stages"] == ["rule"] and labels[0]["actors"] == ["Islamic State"]


def test_the_classifier_alone_needs_the_policys_threshold(policy):
    t = policy.thresholds["extremist_source"]
    only_clf = [StageResult("rule"), StageResult("classifier", scores={"extremist_source": t - 0.01})]
    assert names(fuse(only_clf, policy)) == []
    only_clf[1].scores["extremist_source"] = t
    assert names(fuse(only_clf, policy)) == ["extremist_source"]
