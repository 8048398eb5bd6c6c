"""Property tests: any Unicode is handled, offsets stay inside their field, results are deterministic."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers.document import DocumentError, build_document, html_depth_exceeds
from classifiers.pipeline import Moderator, clean_item
from classifiers.text import normalise

MOD = Moderator()

# Zero-width, bidi, combining marks, astral characters, surrogates and look-alikes mixed into news words.
tricky = st.sampled_from(["\u200b", "\u200d", "\u202e", "\u2066", "\u0301", "\u0308", "😀", "𝐈𝐒𝐈𝐒", "\ud800", "\udfff",
                          "І", "Ѕ", "ﬁ", "\u00a0", "\n", "<", ">", "&amp;", "&#73;", " ISIS ", " video ", " released by ",
                          " bodies ", " purportedly ", "1S1S", "I S I S", ".", "!", "?"])
texts = st.lists(st.one_of(st.text(max_size=30), tricky), max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_normalised_spans_map_inside_the_original(text):
    n = normalise(text)
    for start in range(0, len(n.text), max(1, len(n.text) // 7 or 1)):
        end = min(len(n.text), start + 5)
        if end <= start:
            continue
        s, e = n.span(start, end)
        assert 0 <= s <= e <= len(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=texts, body=texts, caption=texts, fmt=st.sampled_from(["text", "html", None]))
def test_any_unicode_gives_a_result_with_offsets_inside_fields(title, body, caption, fmt):
    item = {"title": title, "body": body, "media": [{"id": "m1", "caption": caption, "credit": caption[:50]}]}
    if fmt:
        item["body_format"] = fmt
    try:
        result = MOD.moderate(item)
    except DocumentError:
        return  # refused with a clear error (deep HTML); the service answers 422
    doc = build_document(clean_item(item))
    for lab in result["labels"]:
        for ev in lab["evidence"]:
            f = doc.by_name[ev["field"]]
            assert 0 <= ev["start"] <= ev["end"] <= len(f.text)
            assert f.text[ev["start"]:ev["end"]] == ev["text"]
    assert MOD.moderate(item) == result  # deterministic for the same content


def test_deep_html_is_refused_before_parsing():
    assert not html_depth_exceeds("<div>" * 100 + "x" + "</div>" * 100)
    assert html_depth_exceeds("<div>" * 600 + "x")
    assert not html_depth_exceeds("<p>a<br>b<img src=x><br/>" * 1000)
    with pytest.raises(DocumentError) as err:
        build_document({"body": "<div>" * 100_000, "body_format": "html"})
    assert err.value.field == "body"


def test_long_unpunctuated_text_is_cut_into_bounded_sentences():
    from classifiers.text import MAX_SENTENCE_CHARS, sentence_bounds

    text = normalise("word " * 10_000).text
    bounds = sentence_bounds(text)
    assert all(e - s <= MAX_SENTENCE_CHARS for s, e in bounds)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
