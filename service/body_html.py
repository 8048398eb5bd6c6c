"""Put the disclaimers' HTML into a body, changing nothing else.

The original string is never re-serialised: each disclaimer is inserted at an
offset into it, and every other byte stays where it was. Positions:

- ``top``: before the body's first content (element, text or comment);
- ``before_media``: before the flagged element. ``html-N`` is the N-th media
  element in the order ``classifiers.document`` finds them (figures first, then
  ``img``/``iframe``/``video`` outside figures); a request media id refers to the
  request's media, placed before the element whose ``src`` equals its ``url``
  (before its enclosing ``<figure>``), else at the top;
- ``end``: after the body's last content.

Lexbor (selectolax) decides *which* element is meant, exactly as the moderator
saw the document; the standard library's tokenizer (``html.parser``) reports
*where* each start tag begins in the original string. The two are matched by
the element's ordinal among start tags of its name; where their counts differ
(exotic markup), the disclaimer goes to the top instead. Disclaimers with
``already_present`` are skipped. Plain-text bodies are first rendered as
escaped ``<p>`` paragraphs.
"""

from __future__ import annotations

import html as html_lib
from dataclasses import dataclass
from html.parser import HTMLParser

from selectolax.lexbor import LexborHTMLParser

MEDIA_TAGS = ("figure", "img", "iframe", "video")
_DROP_TAGS = ("script", "style", "noscript", "template", "head", "svg", "math", "object")
_SKIP_TAGS = frozenset({"html", "head", "body"})


def text_to_html(text: str) -> str:
    """Plain text as escaped paragraphs (blank lines separate them)."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return "\n".join(f"<p>{html_lib.escape(p, quote=False)}</p>" for p in paragraphs if p)


class _Tokens(HTMLParser):
    """Offsets of start tags (by name and ordinal), of the first content and of the end of the body."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.starts: dict[str, list[int]] = {}
        self.first: int | None = None
        self.closing: int | None = None  # where </body> or </html> starts
        self._line_starts = [0]
        for i, ch in enumerate(self.source):
            if ch == "\n":
                self._line_starts.append(i + 1)
        self._in_head = False

    def _abs(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def _content(self, at: int) -> None:
        if self.first is None and not self._in_head and self.closing is None:
            self.first = at

    def handle_starttag(self, tag, attrs):
        at = self._abs()
        if tag == "head":
            self._in_head = True
        if tag in MEDIA_TAGS:
            self.starts.setdefault(tag, []).append(at)
        if tag not in _SKIP_TAGS:
            self._content(at)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "head":
            self._in_head = False
        elif tag in ("body", "html") and self.closing is None:
            self.closing = self._abs()

    def handle_data(self, data):
        stripped = data.lstrip()
        if stripped:
            self._content(self._abs() + len(data) - len(stripped))

    def handle_entityref(self, name):
        self._content(self._abs())

    def handle_charref(self, name):
        self._content(self._abs())

    def handle_comment(self, data):
        self._content(self._abs())


@dataclass(frozen=True)
class Positions:
    """Where disclaimers can go in one body."""

    top: int
    end: int
    media: list[int | None]          # html-N -> offset of its element (None: not locatable)
    by_src: dict[str, int]            # media url -> offset before its element (or enclosing figure)


def _inside_figure(node) -> object | None:
    parent, depth = node.parent, 0
    while parent is not None and depth < 64:
        if parent.tag == "figure":
            return parent
        parent, depth = parent.parent, depth + 1
    return None


def find_positions(source: str) -> Positions:
    """Offsets in ``source`` for each placement; see the module docstring."""
    tokens = _Tokens(source)
    tokens.feed(source)
    tokens.close()
    end = tokens.closing if tokens.closing is not None else len(source)
    while end > 0 and source[end - 1].isspace():
        end -= 1
    top = tokens.first if tokens.first is not None else end

    tree = LexborHTMLParser(source)
    ordinal: dict[int, tuple[str, int]] = {}
    counts: dict[str, int] = {}
    start = tree.root
    if start is not None:
        for node in start.traverse():
            if node.tag in MEDIA_TAGS:
                ordinal[node.mem_id] = (node.tag, counts.get(node.tag, 0))
                counts[node.tag] = counts.get(node.tag, 0) + 1
    reliable = {tag for tag in MEDIA_TAGS if counts.get(tag, 0) == len(tokens.starts.get(tag, []))}

    def offset_of(node) -> int | None:
        tag, n = ordinal.get(node.mem_id, (None, -1))
        return tokens.starts[tag][n] if tag in reliable else None

    root = tree.body or tree.root
    media: list[int | None] = []
    by_src: dict[str, int] = {}
    if root is not None:
        for tag in _DROP_TAGS:
            for node in root.css(tag):
                node.decompose()
        for fig in root.css("figure"):
            if fig.css_first("figcaption") or fig.css_first("img") or fig.css_first("iframe"):
                media.append(offset_of(fig))
        for node in root.css("img, iframe, video"):
            figure = _inside_figure(node)
            at = offset_of(figure if figure is not None else node)
            src = node.attributes.get("src")
            if src and at is not None:
                by_src.setdefault(src, at)
            if figure is None:
                media.append(offset_of(node))
    return Positions(top=top, end=end, media=media, by_src=by_src)


def _media_offset(disclaimer: dict, positions: Positions, request_media: list[dict]) -> int | None:
    media_id = disclaimer.get("media_id") or ""
    if media_id.startswith("html-") and media_id[5:].isdigit():
        n = int(media_id[5:])
        return positions.media[n] if n < len(positions.media) else None
    for i, m in enumerate(request_media):
        if (m.get("id") or f"media-{i}") == media_id:
            url = m.get("url")
            return positions.by_src.get(url) if url else None
    return None


def render_body_html(body: str, *, is_html: bool, disclaimers: list[dict], media: list[dict] | None = None) -> str:
    """``body`` (HTML, or text rendered as paragraphs) with the disclaimers inserted."""
    source = body if is_html else text_to_html(body)
    wanted = [d for d in disclaimers if not d.get("already_present") and d.get("html")]
    if not wanted:
        return source
    positions = find_positions(source)
    inserts: list[tuple[int, int, str]] = []  # (offset, order, text)
    at_top: set[str] = set()
    for order, d in enumerate(wanted):
        placement = d.get("placement")
        if placement == "end":
            inserts.append((positions.end, order, "\n" + d["html"]))
            continue
        offset = _media_offset(d, positions, media or []) if placement == "before_media" else None
        if offset is None:
            if placement == "before_media" and d["id"] in at_top:
                continue  # the same notice is already at the top
            offset = positions.top
            at_top.add(d["id"])
        inserts.append((offset, order, d["html"] + "\n"))
    inserts.sort()
    out: list[str] = []
    last = 0
    for offset, _, text in inserts:
        out.append(source[last:offset])
        out.append(text)
        last = offset
    out.append(source[last:])
    return "".join(out)
