"""The client's result types (frozen dataclasses mirroring the contract's JSON) and its errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ApiError", "AuthError", "Disclaimer", "Evidence", "Health", "ItemRecord", "Label", "ModerationResult",
           "ModlabelError", "NotFound", "PrePublishAnswer", "StoredResult", "TransportError"]


# -- errors --------------------------------------------------------------------------------------

class ModlabelError(Exception):
    """Base class of every error this client raises."""


class TransportError(ModlabelError):
    """The service could not be reached, or the connection failed mid-request."""


class ApiError(ModlabelError):
    """The service answered 4xx or 5xx; ``code``, ``message`` and ``field`` come from its error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, request_id: str | None = None):
        super().__init__(f"{status} {code}: {message}" + (f" ({field})" if field else ""))
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.request_id = request_id


class NotFound(ApiError):
    """404: no such item (or route)."""


class AuthError(ApiError):
    """401 or 403: a missing or wrong API key or webhook signature."""


# -- results -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    field: str
    start: int
    end: int
    text: str
    source: str


@dataclass(frozen=True)
class Label:
    name: str
    confidence: float
    stages: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    severity: str | None = None
    actors: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping) -> Label:
        return cls(d["name"], float(d["confidence"]), tuple(d.get("stages") or ()),
                   tuple(Evidence(**{k: e[k] for k in ("field", "start", "end", "text", "source")}) for e in d.get("evidence") or ()),
                   d.get("severity"), tuple(d.get("actors") or ()))


@dataclass(frozen=True)
class Disclaimer:
    id: str
    placement: str
    text: str
    html: str
    already_present: bool = False
    media_id: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping) -> Disclaimer:
        return cls(d["id"], d["placement"], d["text"], d["html"], bool(d.get("already_present")), d.get("media_id"))


def _labels(d: Mapping) -> tuple[Label, ...]:
    return tuple(Label.from_dict(lab) for lab in d.get("labels") or ())


def _disclaimers(d: Mapping) -> tuple[Disclaimer, ...]:
    return tuple(Disclaimer.from_dict(x) for x in d.get("disclaimers") or ())


@dataclass(frozen=True)
class ModerationResult:
    """The answer of ``POST /v1/moderate``."""

    item_id: str | None
    content_hash: str
    decision: str
    labels: tuple[Label, ...]
    disclaimers: tuple[Disclaimer, ...]
    policy_version: str
    model_version: str
    request_id: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Mapping, request_id: str | None = None) -> ModerationResult:
        return cls(d.get("item_id"), d["content_hash"], d["decision"], _labels(d), _disclaimers(d), d["policy_version"],
                   d["model_version"], request_id, dict(d))

    def label(self, name: str) -> Label | None:
        """The label called ``name``, or None."""
        return next((lab for lab in self.labels if lab.name == name), None)


@dataclass(frozen=True)
class StoredResult:
    """One stored result of an item (``source``: api, webhook, override, rescan)."""

    decision: str
    labels: tuple[Label, ...]
    disclaimers: tuple[Disclaimer, ...]
    content_hash: str
    policy_version: str
    model_version: str
    source: str | None = None
    reason: str | None = None
    created_at: str | None = None
    result_id: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping) -> StoredResult:
        return cls(d["decision"], _labels(d), _disclaimers(d), d.get("content_hash", ""), d.get("policy_version", ""),
                   d.get("model_version", ""), d.get("source"), d.get("reason"), d.get("created_at"), d.get("result_id"))


@dataclass(frozen=True)
class ItemRecord:
    """The answer of ``GET /v1/items/{publisher}/{item_id}``: the current decision and its history, newest first."""

    publisher: str
    item_id: str
    decision: str
    content_hash: str
    current: StoredResult | None
    history: tuple[StoredResult, ...]
    updated_at: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Mapping) -> ItemRecord:
        current = StoredResult.from_dict(d["current"]) if d.get("current") else None
        return cls(d["publisher"], d["item_id"], d["decision"], d.get("content_hash", ""), current,
                   tuple(StoredResult.from_dict(r) for r in d.get("history") or ()), d.get("updated_at"), dict(d))


@dataclass(frozen=True)
class PrePublishAnswer:
    """The answer of ``POST /v1/webhooks/pre-publish``."""

    allow: bool
    decision: str
    labels: tuple[Label, ...]
    disclaimers: tuple[Disclaimer, ...]
    body_html: str
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Mapping) -> PrePublishAnswer:
        return cls(bool(d["allow"]), d["decision"], _labels(d), _disclaimers(d), d.get("body_html", ""), dict(d))


@dataclass(frozen=True)
class Health:
    """``/healthz`` or ``/readyz``: ``ok`` is False when the service answered 503 (``message`` says why)."""

    ok: bool
    status: str
    message: str | None = None
