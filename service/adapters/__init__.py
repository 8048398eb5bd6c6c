"""Payload adapters: turn what a CMS sends into a contract item.

Accepted shapes, tried in this order:

- a Ghost post webhook: ``{"post": {"current": {...}}}``            (``ghost``)
- a WordPress REST API post object: ``title.rendered``, ``content.rendered``  (``wordpress``)
- a Contentful ``Entry.publish`` webhook: ``sys.type == "Entry"`` and ``fields``
  per locale, or the ``X-Contentful-Topic`` header                  (``contentful``)
- the contract's content item (``../spec/api.md``)                  (``contract``)

Anything else is a 422 ``unknown_payload_shape`` whose message lists these.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.adapters import contentful, contract, ghost, wordpress
from service.adapters.base import Adapted, html_text
from service.errors import ApiError

__all__ = ["ACCEPTED_SHAPES", "Adapted", "adapt", "html_text"]

ACCEPTED_SHAPES = (
    "a contract content item ({\"title\", \"body\", ...} as for POST /v1/moderate)",
    "a WordPress REST API post object (title.rendered, content.rendered)",
    "a Contentful Entry.publish webhook (sys.type \"Entry\" with fields per locale)",
    "a Ghost post webhook ({\"post\": {\"current\": {...}}})",
)

_ADAPTERS = (ghost, wordpress, contentful, contract)


def adapt(payload: object, *, publisher: str, headers: Mapping[str, str] | None = None) -> Adapted:
    """The contract item for ``payload``; 422 when no adapter recognises it."""
    headers = headers or {}
    if isinstance(payload, dict):
        for adapter in _ADAPTERS:
            if adapter.matches(payload, headers):
                return adapter.adapt(payload, publisher=publisher, headers=headers)
    raise ApiError(422, "unknown_payload_shape", "unrecognised payload; accepted shapes: " + "; ".join(ACCEPTED_SHAPES))
