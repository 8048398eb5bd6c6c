"""Request and response models of the public contract (``../spec/api.md``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

Short = Annotated[str, StringConstraints(max_length=2_000)]
Text = Annotated[str, StringConstraints(max_length=20_000)]
Url = Annotated[str, StringConstraints(max_length=4_096)]
PublisherName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
ItemId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Pdq = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]


def _iso_8601(value):
    """ISO 8601 text only: pydantic alone also takes a number of seconds (`0.5`), which the spec does not offer."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) < 10 or text[4] != "-" or text[7] != "-":
            raise ValueError("expected an ISO 8601 date-time with an offset, such as 2026-11-26T12:00:00Z")
    elif not isinstance(value, datetime):
        raise ValueError("expected an ISO 8601 date-time string")
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]

# The largest id, cursor or count a request may carry: 2**53 - 1, exact in every JSON reader (and in JSON Schema
# validators that compare as floats), far below BIGINT's limit, so a huge number is a 422 and never a database overflow.
MAX_ID = 2**53 - 1


def no_bool(value):
    """For ``field_validator(..., mode="before")`` on integer fields: JSON ``true``/``false`` is not a number
    (pydantic's lax mode would read it as 1/0), while ``6.0`` still is 6. A field validator, not an Annotated
    one, so the fields' bounds stay ``minimum``/``maximum`` in the OpenAPI schema."""
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    return value


class MediaItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, StringConstraints(max_length=256)] | None = None
    type: Literal["image", "video", "audio", "embed"] = "image"
    url: Url | None = None
    caption: Text | None = None
    alt_text: Text | None = None
    credit: Short | None = None
    source_url: Url | None = None
    pdq: Pdq | None = None


class ContentItem(BaseModel):
    """One content item: an article or a media item."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "cms-123",
                    "publisher": "default",
                    "type": "article",
                    "title": "Militants release video of strike aftermath",
                    "body": "A new video purportedly put out by the Islamic State shows the aftermath of airstrikes. It could not be independently verified.",
                    "media": [{"id": "m1", "type": "video", "caption": "Still from the video", "credit": "Amaq News Agency"}],
                }
            ]
        },
    )

    id: ItemId | None = None
    publisher: PublisherName = "default"
    type: Literal["article", "media"] = "article"
    title: Short | None = None
    body: Annotated[str, StringConstraints(max_length=2 * 1024 * 1024)] | None = None
    body_format: Literal["text", "html"] | None = None
    language: Annotated[str, StringConstraints(max_length=16)] | None = None
    url: Url | None = None
    tags: Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=100)] | None = None
    media: Annotated[list[MediaItem], Field(max_length=100)] | None = None


class EvidenceOut(BaseModel):
    field: str
    start: int
    end: int
    text: str
    source: str


class LabelOut(BaseModel):
    name: Literal["extremist_source", "graphic_violence", "unverified"]
    confidence: float
    severity: Literal["graphic", "extreme"] | None = None
    actors: list[str] | None = None
    stages: list[str]
    evidence: list[EvidenceOut]


class DisclaimerOut(BaseModel):
    id: Literal["graphic_warning", "extremist_source_notice", "unverified_notice", "publisher_statement"]
    placement: Literal["top", "before_media", "end"]
    media_id: str | None = None
    text: str
    html: str
    already_present: bool


class OverrideContext(BaseModel):
    """A moderator's override as it bears on an automated answer."""

    id: int
    status: Literal["pending", "active", "withdrawn", "superseded", "stale", "expired"]
    applied: bool
    decision: str
    reason: str
    content_hash: str
    created_by: str | None = None
    created_at: str


class ModerationResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "item_id": "cms-123",
                    "content_hash": "9f2c0c1d5b0e3c1b8d5c7e2a4f6b8d0e1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e",
                    "decision": "publish_with_disclaimers",
                    "labels": [
                        {"name": "extremist_source", "confidence": 0.95, "actors": ["Islamic State"], "stages": ["rule", "classifier"],
                         "evidence": [{"field": "body", "start": 6, "end": 55, "text": "video purportedly put out by the Islamic State", "source": "rule:attribution.passive"}]},
                        {"name": "unverified", "confidence": 0.9, "stages": ["rule"],
                         "evidence": [{"field": "body", "start": 12, "end": 23, "text": "purportedly", "source": "rule:unverified.cue"}]},
                    ],
                    "disclaimers": [
                        {"id": "extremist_source_notice", "placement": "top", "text": "This content includes material produced or distributed by Islamic State ...",
                         "html": "<aside class=\"modlabel-disclaimer\" ...><p>...</p></aside>", "already_present": False},
                    ],
                    "policy_version": "policy-v1.0+abcdef0123",
                    "model_version": "rules:actors-2026.11.25+cues-2026.11.25+0123456789ab",
                }
            ]
        }
    )

    item_id: str | None
    content_hash: str
    decision: Literal["publish", "publish_with_disclaimers", "hold_for_review", "block"]
    labels: list[LabelOut]
    disclaimers: list[DisclaimerOut]
    policy_version: str
    model_version: str
    override: OverrideContext | None = Field(None, description="Present when a moderator's override concerns this item: "
                                             "`applied` true when it decided this answer; false for an override of older "
                                             "content (the item is then held for review) or one awaiting approval.")


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES = {
    400: {"model": ErrorResponse, "description": "Malformed JSON"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
    415: {"model": ErrorResponse, "description": "Not application/json"},
    422: {"model": ErrorResponse, "description": "A field is invalid; `error.field` names it"},
}

RATE_LIMITED = {
    429: {"model": ErrorResponse, "description": "Over the rate limit (`rate_limited`): of the API key, or of the "
          "publisher's webhook deliveries",
          "headers": {"Retry-After": {"description": "Seconds until a request fits again", "schema": {"type": "integer"}}}},
}

AUTH_RESPONSES = {
    401: {"model": ErrorResponse, "description": "No API key, or an unknown or revoked one (`unauthorized`)"},
    403: {"model": ErrorResponse, "description": "The key's role or publisher does not allow this "
          "(`forbidden_role`, `forbidden_publisher`)"},
    **RATE_LIMITED,
    503: {"model": ErrorResponse, "description": "The database is unavailable (`storage_unavailable`, with Retry-After); "
          "`/v1/moderate` still answers 200 with `X-Modlabel-Stored: false` for a key it has read before"},
}
