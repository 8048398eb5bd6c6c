"""Disclaimers inserted into bodies by offset: placements right, every other byte unchanged."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.document import html_visible_text
from service.body_html import find_positions, render_body_html, text_to_html


def d(did, placement, media_id=None, present=False):
    out = {"id": did, "placement": placement, "html": f'<aside data-d="{did}-{placement}-{media_id}"></aside>',
           "text": did, "already_present": present}
    if media_id:
        out["media_id"] = media_id
    return out


def strip_inserts(result: str, disclaimers: list[dict]) -> str:
    for item in disclaimers:
        for piece in (item["html"] + "\n", "\n" + item["html"]):
            result = result.replace(piece, "", 1) if piece in result else result
    return result


BODY = ('<!-- wp:paragraph --><p>Intro &amp; <em>more</em></p>\n'
        '<figure class="wp-block-image"><img src="https://cdn/a.jpg" alt="A"><figcaption>Cap</figcaption></figure>\n'
        '<p>Then <IMG SRC="https://cdn/b.jpg"/> inline</p>\n'
        '<script>var s = "<figure><img src=x>";</script>\n'
        "<iframe src='https://video/embed/1'></iframe>\n"
        '<p>Last.</p>\n\n')


def test_positions_follow_document_media_order():
    pos = find_positions(BODY)
    html_media = html_visible_text(BODY).media  # what the moderator sees: figures first, then the rest
    assert len(pos.media) == len(html_media) == 3
    assert BODY[pos.media[0]:].startswith('<figure class="wp-block-image">')
    assert BODY[pos.media[1]:].startswith('<IMG SRC="https://cdn/b.jpg"/>')
    assert BODY[pos.media[2]:].startswith("<iframe src='https://video/embed/1'>")
    assert pos.top == 0  # the leading block comment counts as content
    assert BODY[: pos.end].endswith("<p>Last.</p>")
    assert pos.by_src["https://cdn/a.jpg"] == pos.media[0]  # an img inside a figure: before the figure


def test_each_placement_and_nothing_else_changes():
    ds = [d("graphic_warning", "top"), d("unverified_notice", "top"),
          d("graphic_warning", "before_media", "html-1"), d("extremist_source_notice", "before_media", "html-1"),
          d("graphic_warning", "before_media", "m1"), d("publisher_statement", "end")]
    out = render_body_html(BODY, is_html=True, disclaimers=ds, media=[{"id": "m1", "url": "https://cdn/a.jpg"}])
    assert out.startswith(ds[0]["html"] + "\n" + ds[1]["html"] + "\n<!-- wp:paragraph -->")
    assert (ds[2]["html"] + "\n" + ds[3]["html"] + '\n<IMG SRC="https://cdn/b.jpg"/>') in out
    assert (ds[4]["html"] + '\n<figure class="wp-block-image">') in out
    assert out.endswith("<p>Last.</p>\n" + ds[5]["html"] + "\n\n")
    assert strip_inserts(out, ds) == BODY


def test_already_present_is_skipped():
    ds = [d("graphic_warning", "top", present=True), d("publisher_statement", "end")]
    out = render_body_html("<p>x</p>", is_html=True, disclaimers=ds)
    assert ds[0]["html"] not in out and out == "<p>x</p>\n" + ds[1]["html"]


def test_unknown_media_goes_to_top_once():
    ds = [d("graphic_warning", "top"), d("graphic_warning", "before_media", "nope"),
          d("extremist_source_notice", "before_media", "m9")]
    out = render_body_html("<p>x</p>", is_html=True, disclaimers=ds, media=[{"id": "m9", "caption": "no url"}])
    assert out == ds[0]["html"] + "\n" + ds[2]["html"] + "\n<p>x</p>"


def test_full_document_goes_inside_body():
    src = "<!doctype html><html><head><title>T</title><style>p{}</style></head><body>\n  <p>a</p>\n</body></html>"
    out = render_body_html(src, is_html=True, disclaimers=[d("g", "top"), d("s", "end")])
    assert out == src.replace("<p>a</p>", '<aside data-d="g-top-None"></aside>\n<p>a</p>\n<aside data-d="s-end-None"></aside>')


def test_text_body_becomes_escaped_paragraphs():
    assert text_to_html("a < b\n\n second ") == "<p>a &lt; b</p>\n<p>second</p>"
    out = render_body_html("One.\n\nTwo.", is_html=False, disclaimers=[d("u", "top")])
    assert out == '<aside data-d="u-top-None"></aside>\n<p>One.</p>\n<p>Two.</p>'


def test_no_disclaimer_returns_body_unchanged():
    assert render_body_html(BODY, is_html=True, disclaimers=[]) is BODY


def test_empty_body():
    assert render_body_html("", is_html=True, disclaimers=[d("g", "top")]) == '<aside data-d="g-top-None"></aside>\n'


PIECES = st.sampled_from([
    "<p>", "</p>", "text ", "&amp;", "&#8217;", "<br>", "<figure>", "</figure>", '<img src="u1.jpg" alt="a&quot;b">',
    "<img src=u2.jpg/>", "<figcaption>cap</figcaption>", "<iframe src='v'></iframe>", "<video src=v2></video>",
    "<!-- c -->", "<script>if (a<b) {}</script>", "<div class='x'>", "</div>", "\n", "  ", "<em>", "</em>", "é ß ✓",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, max_size=40), st.integers(0, 4))
def test_inserting_never_changes_the_original_markup(pieces, n):
    src = "".join(pieces)
    ds = [d("graphic_warning", "top"), d("graphic_warning", "before_media", f"html-{n}"),
          d("extremist_source_notice", "before_media", "m1"), d("publisher_statement", "end")]
    out = render_body_html(src, is_html=True, disclaimers=ds, media=[{"id": "m1", "url": "u1.jpg"}])
    assert strip_inserts(out, ds) == src
    pos = find_positions(src)
    for offset in pos.media:
        if offset is not None:
            assert src[offset] == "<" and src[offset + 1:offset + 2].lower() in "fiv"
