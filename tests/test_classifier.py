"""The learned stage: lean path equals the sklearn pipeline; the artifact rebuilds deterministically."""

import json

import numpy as np
import pytest

from classifiers.document import build_document
from classifiers.evaluate import read_jsonl
from classifiers.learned.model import ARTIFACT_DIR, read_card
from classifiers.learned.stage import ClassifierStage
from classifiers.learned.train import DEV_SET, load_corpus, split_of
from classifiers.rules.stage import RuleStage


@pytest.fixture(scope="module")
def stage():
    st = ClassifierStage.load()
    if st is None:
        pytest.fail("the shipped classifier artifact is missing; run `modlabel train`")
    return st


def test_lean_path_gives_the_pipeline_probabilities(stage):
    rules = RuleStage()
    items = list(read_jsonl(DEV_SET))[:60]
    for it in items:
        doc = build_document(it)
        _, sig = rules.analyse(doc)
        x = {"text": doc.text_for_model(), "signals": sig.vector()}
        lean = stage.probabilities(x["text"], x["signals"])
        for label, pipe in stage.pipelines.items():
            np.testing.assert_allclose(lean[label], pipe.predict_proba([x])[0], rtol=1e-9, atol=1e-12)


def test_classifier_adds_labels_no_rule_names_and_they_are_mostly_right(stage):
    # On the dev set (never trained on): labels only the classifier finds, checked against the truth.
    rules = RuleStage()
    right = wrong = 0
    for it in read_jsonl(DEV_SET):
        doc = build_document(it)
        rule_result, signals = rules.analyse(doc)
        result = stage.run(doc, signals=signals)
        for label in ("extremist_source", "graphic_violence", "unverified"):
            if label in result.votes and label not in rule_result.votes:
                truth = it["expected"][label]
                ok = truth != "none" if label == "graphic_violence" else bool(truth)
                right += ok
                wrong += not ok
                ev = result.votes[label].evidence
                assert ev and all(e.source.startswith("classifier:ngram:") for e in ev)
    assert right >= 2, (right, wrong)
    assert right > wrong, (right, wrong)


def test_dev_set_is_kept_out_of_training():
    items, _, _ = load_corpus()
    dev_ids = {it["id"] for it in read_jsonl(DEV_SET)}
    assert not dev_ids & {it["id"] for it in items}


def test_splits_are_fixed_by_id():
    assert split_of("att-0001") == split_of("att-0001")
    counts = {s: 0 for s in ("train", "dev", "test")}
    for i in range(2000):
        counts[split_of(f"x-{i}")] += 1
    assert 0.65 < counts["train"] / 2000 < 0.75


def test_model_card_records_data_versions_and_metrics():
    card = read_card(ARTIFACT_DIR)
    for key in ("version", "trained_on", "split_sizes", "thresholds", "metrics_test_split", "libraries", "date"):
        assert key in card
    assert set(card["metrics_test_split"]) == {"rules", "classifier", "combined"}


@pytest.mark.slow
def test_retraining_reproduces_the_card_metrics(tmp_path):
    from classifiers.learned.train import train

    card = train(tmp_path, log=lambda m: None, write_policy=False)
    shipped = read_card(ARTIFACT_DIR)
    assert card["metrics_test_split"] == shipped["metrics_test_split"]
    assert card["thresholds"] == shipped["thresholds"]
    assert card["trained_on"]["sha256"] == shipped["trained_on"]["sha256"]
