"""What every adapter returns, and small helpers they share."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from classifiers.document import html_visible_text, looks_like_html
from service.errors import ApiError
from service.schemas import ContentItem


@dataclass(frozen=True)
class Adapted:
    """A contract item built from a CMS payload.

    ``item`` is validated and feeds the moderator; ``body_html`` is the markup the
    answer's ``body_html`` is built from (it may be shorter than ``item["body"]``
    when an adapter adds text to moderate, such as a WordPress excerpt, after it);
    ``body_is_html`` says whether ``body_html`` is markup or plain text.
    """

    shape: str
    item: dict
    body_html: str
    body_is_html: bool


def html_text(fragment: str | None) -> str:
    """Visible text of a small HTML fragment (titles, captions), entities decoded."""
    if not fragment:
        return ""
    if not looks_like_html(fragment) and "&" not in fragment:
        return " ".join(fragment.split())
    return " ".join(html_visible_text(fragment).text.split())


def validated(raw: dict, shape: str) -> dict:
    """``raw`` checked against the contract item; 422 naming the field otherwise."""
    try:
        return ContentItem.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise ApiError(422, "validation_error", f"{shape} payload: {field}: {err['msg']}", field) from None


def body_is_html(item: dict) -> bool:
    """Same rule as the moderator: ``body_format``, else a guess from the markup."""
    fmt = item.get("body_format")
    return fmt == "html" or (fmt is None and looks_like_html(item.get("body") or ""))
