import json
from pathlib import Path

import pytest

from labels.disclaimers import render, required_disclaimers
from labels.policy import PolicyError, decide, load_policy_set

PS = load_policy_set()


def labels(*names, severity="graphic", actors=("Islamic State",), confidence=0.9, stages=("rule",)):
    out = []
    for n in names:
        lab = {"name": n, "confidence": confidence, "stages": list(stages), "evidence": []}
        if n == "graphic_violence":
            lab["severity"] = severity
        if n == "extremist_source":
            lab["actors"] = list(actors)
        out.append(lab)
    return out


def run(labs, publisher="default", language=None, body="", flagged=None):
    return required_disclaimers(labs, ps=PS, publisher=PS.publisher(publisher), language=language,
                                body_text=body, flagged_media=flagged or {})


def test_no_label_no_disclaimer():
    assert run([]) == []


def test_each_label_gets_its_disclaimer_at_the_top():
    out = run(labels("extremist_source", "graphic_violence", "unverified"))
    assert [(d["id"], d["placement"]) for d in out] == [
        ("graphic_warning", "top"), ("extremist_source_notice", "top"), ("unverified_notice", "top")]
    notice = out[1]
    assert "Islamic State" in notice["text"]


def test_before_media_disclaimers_name_the_flagged_media():
    out = run(labels("graphic_violence"), flagged={"graphic_violence": ["m1", "m2"]})
    media = [d for d in out if d["placement"] == "before_media"]
    assert [d["media_id"] for d in media] == ["m1", "m2"]


def test_publisher_statement_goes_at_the_end_for_publishers_that_have_one():
    assert all(d["id"] != "publisher_statement" for d in run(labels("unverified")))
    out = run(labels("unverified"), publisher="example-news")
    assert out[-1]["id"] == "publisher_statement" and out[-1]["placement"] == "end"
    assert "Example News" in out[-1]["text"]


@pytest.mark.parametrize("lang,word", [("fr", "Avertissement"), ("es", "Advertencia"), ("ar", "تحذير"), ("en", "Warning")])
def test_languages(lang, word):
    out = run(labels("graphic_violence"), language=lang)
    assert word in out[0]["text"]
    assert f'lang="{lang}"' in out[0]["html"]


def test_unknown_language_falls_back_to_english():
    out = run(labels("graphic_violence"), language="xx")
    assert out[0]["text"].startswith("Warning")


def test_variables_are_escaped_in_html_only():
    text, html = render("{publisher} says {actors}", {"publisher": "<script>alert(1)</script>", "actors": "A & B"})
    assert text == "<script>alert(1)</script> says A & B"
    assert "<script>" not in html and "&lt;script&gt;" in html and "A &amp; B" in html


def test_actor_names_are_escaped_in_the_notice_html():
    out = run(labels("extremist_source", actors=['"><img src=x onerror=alert(1)>']))
    assert "<img" not in out[0]["html"]


def test_already_present_when_the_body_carries_the_substance():
    body = "Warning: this story contains graphic images. Readers may find it disturbing.\nThe video shows bodies."
    out = run(labels("graphic_violence"), body=body)
    assert out[0]["already_present"] is True
    out = run(labels("graphic_violence"), body="The video shows bodies.")
    assert out[0]["already_present"] is False


def test_decisions():
    p = PS.policy
    assert decide([], p).value == "publish"
    assert decide(labels("unverified"), p).value == "publish_with_disclaimers"
    assert decide(labels("extremist_source", "graphic_violence", severity="extreme"), p).value == "hold_for_review"
    assert decide(labels("extremist_source", "graphic_violence", severity="graphic"), p).value == "publish_with_disclaimers"
    low, high = p.band("unverified")
    # the band sits just above the threshold, where the classifier's probability alone decides
    assert decide(labels("unverified", confidence=(low + high) / 2, stages=("classifier",)), p).value == "hold_for_review"
    assert decide(labels("unverified", confidence=high, stages=("classifier",)), p).value == "publish_with_disclaimers"
    # a firing rule (or a hash match) decides on its own, whatever the fused confidence
    assert decide(labels("unverified", confidence=(low + high) / 2, stages=("rule", "classifier")), p).value == "publish_with_disclaimers"
    assert decide(labels("unverified"), p, blocked=True).value == "block"


def test_policy_errors_name_file_and_line(tmp_path: Path):
    import shutil

    root = tmp_path / "labels"
    shutil.copytree(Path(PS.root), root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    pol = root / "policies" / "v1.json"
    data = json.loads(pol.read_text())
    data["review_band"] = {"low": 0.9, "high": 0.1}
    pol.write_text(json.dumps(data, indent=2))
    with pytest.raises(PolicyError) as err:
        load_policy_set(root)
    line = next(i for i, l in enumerate(pol.read_text().splitlines(), 1) if '"review_band"' in l)
    assert f"v1.json:{line}:" in str(err.value)

    tmpl = root / "templates" / "en.json"
    tmpl.write_text(tmpl.read_text().replace("{actors}", "{actor}", 1))
    pol.write_text(json.dumps({**data, "review_band": {"width": 0.04}}, indent=2))
    with pytest.raises(PolicyError, match="en.json:.*unknown template variable"):
        load_policy_set(root)
