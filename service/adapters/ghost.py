"""A Ghost post (or page) webhook (``post.published``, ``post.edited``, ...): ``{"post": {"current": {...}}}``.

``title`` -> title; ``html`` -> HTML body; ``feature_image`` with ``feature_image_alt``
and ``feature_image_caption`` (HTML) -> a media item ``feature_image``; tag names -> tags.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.adapters.base import Adapted, html_text, validated


def _current(payload: dict) -> dict | None:
    for key in ("post", "page"):
        wrapper = payload.get(key)
        if isinstance(wrapper, dict) and isinstance(wrapper.get("current"), dict):
            return wrapper["current"]
    return None


def matches(payload: dict, headers: Mapping[str, str]) -> bool:
    return _current(payload) is not None


def adapt(payload: dict, *, publisher: str, headers: Mapping[str, str]) -> Adapted:
    post = _current(payload) or {}
    media = []
    if post.get("feature_image"):
        media.append({
            "id": "feature_image",
            "type": "image",
            "url": post["feature_image"],
            "alt_text": post.get("feature_image_alt") or None,
            "caption": html_text(post.get("feature_image_caption")) or None,
        })
    tags = [t["name"] for t in post.get("tags") or [] if isinstance(t, dict) and t.get("name")]
    html = post.get("html") or ""
    raw = {
        "id": str(post.get("id") or post.get("uuid") or "") or None,
        "publisher": publisher,
        "type": "article",
        "title": post.get("title") or None,
        "body": html,
        "body_format": "html",
        "url": post.get("url") or None,
        "tags": tags or None,
        "media": [{k: v for k, v in m.items() if v is not None} for m in media] or None,
    }
    item = validated({k: v for k, v in raw.items() if v is not None}, "Ghost post")
    return Adapted("ghost", item, html, True)
