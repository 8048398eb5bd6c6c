"""A WordPress REST API post object (``GET /wp/v2/posts/<id>``, ideally with ``?_embed``).

- ``title.rendered`` -> title (visible text); ``content.rendered`` -> HTML body;
- ``excerpt.rendered`` is moderated too: appended to the body when its text is not
  already part of the content (``body_html`` stays the content alone);
- ``_embedded["wp:featuredmedia"][0]`` -> a media item (``source_url``, ``alt_text``,
  ``caption.rendered``, and ``media_details.image_meta.credit`` when present);
- category and tag names come from ``_embedded["wp:term"]``; bare term ids carry
  no text and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.adapters.base import Adapted, html_text, validated


def _rendered(payload: dict, key: str) -> str | None:
    value = payload.get(key)
    if isinstance(value, dict) and isinstance(value.get("rendered"), str):
        return value["rendered"]
    return None


def matches(payload: dict, headers: Mapping[str, str]) -> bool:
    return _rendered(payload, "content") is not None and isinstance(payload.get("title"), dict)


def _featured_media(payload: dict) -> list[dict]:
    embedded = payload.get("_embedded") or {}
    out = []
    for i, media in enumerate(embedded.get("wp:featuredmedia") or []):
        if not isinstance(media, dict) or media.get("code"):  # {"code": "rest_forbidden", ...} when not readable
            continue
        mime = str(media.get("mime_type") or "")
        kind = "video" if mime.startswith("video/") else "audio" if mime.startswith("audio/") else "image"
        meta = ((media.get("media_details") or {}).get("image_meta") or {})
        caption = _rendered(media, "caption")
        out.append({
            "id": f"wp-media-{media.get('id', i)}",
            "type": kind,
            "url": media.get("source_url") or None,
            "caption": html_text(caption) or None,
            "alt_text": media.get("alt_text") or None,
            "credit": meta.get("credit") or None,
        })
    return out


def _term_names(payload: dict) -> list[str]:
    names: list[str] = []
    for group in (payload.get("_embedded") or {}).get("wp:term") or []:
        for term in group or []:
            if isinstance(term, dict) and term.get("taxonomy") in ("category", "post_tag") and term.get("name"):
                name = html_text(str(term["name"]))
                if name and name not in names:
                    names.append(name)
    return names


def adapt(payload: dict, *, publisher: str, headers: Mapping[str, str]) -> Adapted:
    content = _rendered(payload, "content") or ""
    excerpt = _rendered(payload, "excerpt") or ""
    body = content
    excerpt_text = html_text(excerpt)
    if excerpt_text and excerpt_text not in html_text(content):
        body = f"{content}\n{excerpt}"
    raw = {
        "id": str(payload["id"]) if payload.get("id") is not None else None,
        "publisher": publisher,
        "type": "article",
        "title": html_text(_rendered(payload, "title")) or None,
        "body": body,
        "body_format": "html",
        "url": payload.get("link") or None,
        "tags": _term_names(payload) or None,
        "media": _featured_media(payload) or None,
    }
    item = validated({k: v for k, v in raw.items() if v is not None}, "WordPress post")
    return Adapted("wordpress", item, content, True)
