"""Turn a content item into the fields the stages read.

Each field keeps its own text, exactly as offsets in evidence refer to it: the
title, the body's visible text (HTML bodies go through a real parser), every
media item's caption, alt text, credit, source URL and URL, and media found
inside an HTML body (``<figure>``, ``<figcaption>``, ``<img alt>``,
``<iframe src>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from selectolax.lexbor import LexborHTMLParser

from classifiers.text import Normalised, normalise

MEDIA_FIELDS = ("caption", "alt_text", "credit", "source_url", "url")
MAX_HTML_DEPTH = 512
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
# Elements a parser closes implicitly when the next one opens: they never nest deeply.
_SELF_ENDING = frozenset("p li dt dd tr td th option optgroup rp rt tbody thead tfoot colgroup caption".split())


class DocumentError(ValueError):
    """An item's content cannot be read (for example HTML nested beyond the limit); ``field`` names where."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def html_depth_exceeds(html: str, limit: int = MAX_HTML_DEPTH) -> bool:
    """Whether element nesting goes deeper than ``limit`` (a linear scan of tag openings).

    Parsers spend time quadratic in nesting depth; this check runs first.
    """
    depth = 0
    i = html.find("<")
    n = len(html)
    while 0 <= i < n - 1:
        nxt = html[i + 1]
        if nxt == "/":
            j = i + 2
            while j < n and html[j].isalnum():
                j += 1
            if html[i + 2:j].lower() not in _SELF_ENDING:
                depth = max(0, depth - 1)
        elif nxt.isalpha():
            j = i + 1
            while j < n and html[j].isalnum():
                j += 1
            close = html.find(">", j)
            self_closing = close > 0 and html[close - 1] == "/"
            name = html[i + 1:j].lower()
            if name not in _VOID and name not in _SELF_ENDING and not self_closing:
                depth += 1
                if depth > limit:
                    return True
        i = html.find("<", i + 1)
    return False

_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote figure figcaption section article header footer"
    " aside nav table tr td th pre hr dd dt dl main address".split()
)
_DROP_TAGS = frozenset("script style noscript template head svg math object".split())


@dataclass(slots=True)
class Field:
    """One piece of text the stages read; ``name`` is what evidence points at."""

    name: str
    text: str
    kind: str  # title | body | caption | alt_text | credit | source_url | url | tags
    media_id: str | None = None
    _norm: Normalised | None = None

    @property
    def norm(self) -> Normalised:
        if self._norm is None:
            self._norm = normalise(self.text)
        return self._norm


@dataclass(slots=True)
class MediaRef:
    """A media item of the request or one found in the HTML body."""

    id: str
    index: int
    origin: str  # "media" (request) or "html"
    pdq: str | None = None


@dataclass
class Document:
    """The fields of one content item, in reading order."""

    fields: list[Field] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    body_is_html: bool = False

    @cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def text_for_model(self) -> str:
        """All field texts joined, for the learned stage."""
        return "\n".join(f.text for f in self.fields if f.kind not in ("url", "source_url"))


def looks_like_html(body: str) -> bool:
    """Best guess whether ``body`` is HTML (used when ``body_format`` is absent)."""
    head = body[:2000].lower()
    if "<" not in head:  # every tag below starts with "<": plain text is answered by one scan
        return False
    return any(tag in head for tag in ("<p", "<div", "<br", "<figure", "<img", "<a ", "<h1", "<h2", "<span", "<ul", "<iframe", "<html", "<body", "<!--"))


@dataclass
class HtmlText:
    """Visible text of an HTML body and the media found in it."""

    text: str
    media: list[dict]


def html_visible_text(html: str) -> HtmlText:
    """Visible text through Lexbor: scripts and styles dropped, blocks on new lines."""
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    parts: list[str] = []
    media: list[dict] = []
    if root is None:
        return HtmlText("", media)
    for tag in _DROP_TAGS:
        for node in root.css(tag):
            node.decompose()
    for fig in root.css("figure"):
        entry: dict = {}
        cap = fig.css_first("figcaption")
        if cap is not None:
            entry["caption"] = _squash(cap.text(separator=" "))
        img = fig.css_first("img")
        if img is not None:
            entry["alt_text"] = img.attributes.get("alt") or ""
            entry["url"] = img.attributes.get("src") or ""
        frame = fig.css_first("iframe")
        if frame is not None:
            entry["url"] = frame.attributes.get("src") or ""
            entry["type"] = "embed"
        if entry:
            media.append(entry)
    for node in root.css("img, iframe, video"):
        if _inside_figure(node):
            continue
        src = node.attributes.get("src") or ""
        entry = {"url": src, "type": "embed" if node.tag == "iframe" else "image"}
        if node.tag == "img":
            entry["alt_text"] = node.attributes.get("alt") or ""
        media.append(entry)
    for node in root.traverse(include_text=True):
        if node.tag == "-text":
            parts.append(node.text_content or "")
        elif node.tag in _BLOCK_TAGS:
            parts.append("\n")
    text = "".join(parts)
    lines = [_squash(line) for line in text.split("\n")]
    return HtmlText("\n".join(line for line in lines if line), media)


def _inside_figure(node) -> bool:
    parent = node.parent
    depth = 0
    while parent is not None and depth < 64:
        if parent.tag == "figure":
            return True
        parent = parent.parent
        depth += 1
    return False


def _squash(text: str) -> str:
    return " ".join(text.split())


def build_document(item: dict) -> Document:
    """Fields of a request item (already validated) in reading order."""
    doc = Document()
    title = item.get("title") or ""
    if title:
        doc.fields.append(Field("title", title, "title"))
    body = item.get("body") or ""
    fmt = item.get("body_format")
    is_html = fmt == "html" or (fmt is None and looks_like_html(body))
    html_media: list[dict] = []
    if body:
        if is_html:
            if html_depth_exceeds(body):
                raise DocumentError(f"HTML nesting deeper than {MAX_HTML_DEPTH} elements", "body")
            extracted = html_visible_text(body)
            body_text, html_media = extracted.text, extracted.media
            doc.body_is_html = True
        else:
            body_text = body
        if body_text:
            doc.fields.append(Field("body", body_text, "body"))
    for i, m in enumerate(item.get("media") or []):
        media_id = m.get("id") or f"media-{i}"
        doc.media.append(MediaRef(media_id, i, "media", m.get("pdq")))
        for key in MEDIA_FIELDS:
            value = m.get(key)
            if value:
                doc.fields.append(Field(f"media[{i}].{key}", value, key, media_id))
    for j, m in enumerate(html_media):
        media_id = f"html-{j}"
        doc.media.append(MediaRef(media_id, j, "html"))
        for key in MEDIA_FIELDS:
            value = m.get(key)
            if value:
                doc.fields.append(Field(f"html_media[{j}].{key}", value, key, media_id))
    tags = item.get("tags") or []
    if tags:
        doc.fields.append(Field("tags", ", ".join(tags), "tags"))
    return doc
