"""The contract's own content item, passed through validation unchanged."""

from __future__ import annotations

from collections.abc import Mapping

from service.adapters.base import Adapted, body_is_html, validated
from service.errors import ApiError

_CONTENT_KEYS = ("title", "body", "media")


def matches(payload: dict, headers: Mapping[str, str]) -> bool:
    return any(k in payload for k in _CONTENT_KEYS) and all(
        payload.get(k) is None or isinstance(payload.get(k), str) for k in ("title", "body"))


def adapt(payload: dict, *, publisher: str, headers: Mapping[str, str]) -> Adapted:
    own = payload.get("publisher")
    if own is not None and own != publisher:
        raise ApiError(422, "publisher_mismatch",
                       f"body says publisher {own!r} but the request names {publisher!r}", "publisher")
    item = validated({**payload, "publisher": publisher}, "contract item")
    return Adapted("contract", item, item.get("body") or "", body_is_html(item))
