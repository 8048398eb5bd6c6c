"""A Contentful webhook for an entry (``X-Contentful-Topic: ContentManagement.Entry.publish``).

Fields arrive per locale (``fields.<id>.<locale>``). Which field holds the title,
the body, the media and the tags is publisher configuration: the JSON file
``service/adapters/contentful/<publisher>.json`` (else ``default.json`` beside it)
lists candidate field ids per content type (see ``_doc`` in those files).
Rich-text documents are flattened to plain text, one block a paragraph; links to
assets become media items (the webhook carries only their ids).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from service.adapters.base import Adapted, validated
from service.errors import ApiError

CONFIG_DIR = Path(__file__).resolve().parent
_TOPIC_HEADER = "x-contentful-topic"
_BLOCKS = frozenset({"paragraph", "heading-1", "heading-2", "heading-3", "heading-4", "heading-5", "heading-6",
                     "blockquote", "list-item", "table-cell", "hr"})
_SKIPPED_TOPIC_ACTIONS = ("unpublish", "delete", "archive", "unarchive")


@lru_cache(maxsize=64)
def publisher_config(publisher: str) -> dict:
    """The field mapping of ``publisher`` (``<publisher>.json``, else ``default.json``)."""
    path = CONFIG_DIR / f"{publisher}.json"
    if not path.is_file():
        path = CONFIG_DIR / "default.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _topic(headers: Mapping[str, str]) -> str:
    for key, value in headers.items():
        if key.lower() == _TOPIC_HEADER:
            return value
    return ""


def matches(payload: dict, headers: Mapping[str, str]) -> bool:
    sys = payload.get("sys")
    if isinstance(sys, dict) and sys.get("type") == "Entry" and isinstance(payload.get("fields"), dict):
        return True
    return ".Entry." in _topic(headers) or _topic(headers).startswith("ContentManagement.Entry")


def flatten_rich_text(node: object) -> str:
    """Plain text of a rich-text document: blocks separated by blank lines, embedded entries left out."""
    blocks: list[str] = []
    current: list[str] = []

    def walk(n: object) -> None:
        if not isinstance(n, dict):
            return
        kind = n.get("nodeType")
        if kind == "text":
            current.append(str(n.get("value") or ""))
            return
        if kind in _BLOCKS and current:
            blocks.append("".join(current))
            current.clear()
        for child in n.get("content") or []:
            walk(child)
        if kind in _BLOCKS and current:
            blocks.append("".join(current))
            current.clear()

    walk(node)
    if current:
        blocks.append("".join(current))
    return "\n\n".join(b.strip() for b in blocks if b.strip())


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("nodeType") == "document":
        return flatten_rich_text(value)
    if isinstance(value, list):
        return ", ".join(v for v in value if isinstance(v, str))
    return ""


def _assets(value: object) -> list[str]:
    links = value if isinstance(value, list) else [value]
    out = []
    for link in links:
        sys = link.get("sys") if isinstance(link, dict) else None
        if isinstance(sys, dict) and sys.get("linkType") == "Asset" and sys.get("id"):
            out.append(str(sys["id"]))
    return out


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def adapt(payload: dict, *, publisher: str, headers: Mapping[str, str]) -> Adapted:
    topic = _topic(headers)
    if topic and any(topic.endswith("." + action) for action in _SKIPPED_TOPIC_ACTIONS):
        raise ApiError(422, "unsupported_topic", f"{topic} carries no content to moderate; send Entry.publish or Entry.save",
                       "x-contentful-topic")
    sys = payload.get("sys") or {}
    fields = payload.get("fields")
    if not isinstance(fields, dict):
        raise ApiError(422, "validation_error", "Contentful entry has no fields object", "fields")
    config = publisher_config(publisher)
    content_type = (((sys.get("contentType") or {}).get("sys") or {}).get("id")) or ""
    mapping = {**config.get("default", {}), **config.get("content_types", {}).get(content_type, {})}
    locale = config.get("locale") or next((loc for v in fields.values() if isinstance(v, dict) for loc in v), "en-US")

    def value(field_id: str) -> object:
        per_locale = fields.get(field_id)
        return per_locale.get(locale) if isinstance(per_locale, dict) else None

    def first_text(key: str) -> str:
        for field_id in mapping.get(key, []):
            text = _text(value(field_id)).strip()
            if text:
                return text
        return ""

    media = [{"id": f"asset-{asset}", "type": "image"}
             for field_id in mapping.get("media", []) for asset in _assets(value(field_id))]
    tags = [t for field_id in mapping.get("tags", []) for t in _as_list(value(field_id)) if isinstance(t, str)]
    body = first_text("body")
    raw = {
        "id": sys.get("id"),
        "publisher": publisher,
        "type": "article",
        "title": first_text("title") or None,
        "body": body or None,
        "body_format": "text",
        "language": locale.split("-")[0] if locale else None,
        "tags": tags or None,
        "media": media or None,
    }
    item = validated({k: v for k, v in raw.items() if v is not None}, "Contentful entry")
    return Adapted("contentful", item, body, False)
