"""Hash-bank API models (``Create`` / ``Update`` / ``Public`` side by side) and entry validation."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from classifiers.hashing.variants import MAX_VARIANTS
from classifiers.rules.lexicon import DATA_DIR
from classifiers.text import normalise
from service.schemas import MAX_ID, PublisherName, no_bool

BankName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
PdqHex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
MAX_DISTANCE = 63
# PDQ hashes are median-thresholded: about half their bits are set. Far from half means a flat
# or synthetic image whose hash would match everything like it.
MIN_SET_BITS, MAX_SET_BITS = 32, 224


class BankCreate(BaseModel):
    """A new bank. ``publisher`` absent: a global bank that applies to every publisher."""

    model_config = ConfigDict(extra="forbid")

    name: BankName
    publisher: PublisherName | None = None
    kind: Literal["positive", "negative"] = Field("positive", description="negative: known-good images (e.g. the publisher's "
                                                  "own archive); media matching one never matches positive entries.")
    distance: int = Field(31, ge=0, le=MAX_DISTANCE, description="Largest Hamming distance that counts as a match.")
    flood_threshold: int | None = Field(None, ge=1, le=MAX_ID, description="Quarantine an entry that matches more than this many "
                                        "distinct items within the window; absent: the service default; null in an update: off.")
    flood_window_seconds: int | None = Field(None, ge=60, le=90 * 86_400)
    description: Annotated[str, StringConstraints(max_length=2_000)] | None = None

    _integers = field_validator("distance", "flood_threshold", "flood_window_seconds", mode="before")(no_bool)


class BankUpdate(BaseModel):
    """Settings to change; absent fields stay, ``flood_threshold: null`` turns flood control off."""

    model_config = ConfigDict(extra="forbid")

    distance: int | None = Field(None, ge=0, le=MAX_DISTANCE)
    flood_threshold: int | None = Field(None, ge=1, le=MAX_ID)
    flood_window_seconds: int | None = Field(None, ge=60, le=90 * 86_400)
    description: Annotated[str, StringConstraints(max_length=2_000)] | None = None

    _integers = field_validator("distance", "flood_threshold", "flood_window_seconds", mode="before")(no_bool)


class EntryCounts(BaseModel):
    active: int = 0
    quarantined: int = 0
    removed: int = 0


class BankPublic(BaseModel):
    name: str
    publisher: str | None
    kind: Literal["positive", "negative"]
    distance: int
    flood_threshold: int | None
    flood_window_seconds: int
    description: str | None
    entries: EntryCounts
    created_at: str
    updated_at: str


class EntryCreate(BaseModel):
    """One hash and what a match means. Positive banks need ``label``; negative banks take none."""

    model_config = ConfigDict(extra="forbid")

    pdq: PdqHex = Field(description="64 hex characters (PDQ).")
    label: Literal["extremist_source", "graphic_violence"] | None = None
    severity: Literal["graphic", "extreme"] | None = Field(None, description="graphic_violence only (required there).")
    actors: Annotated[list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=20)] = Field(
        default_factory=list, description="extremist_source only: canonical names or known aliases (resolved).")
    action: Literal["block", "hold_for_review", "allow"] | None = Field(
        None, description="block (default) or hold_for_review; negative banks: allow.")
    source: Annotated[str, StringConstraints(max_length=256)] | None = Field(None, description="Where the hash came from.")
    note: Annotated[str, StringConstraints(max_length=4_000)] | None = None
    status: Literal["active", "quarantined", "removed"] = Field("active", description="removed: kept for the record, never matched.")
    variants: Annotated[list[PdqHex], Field(max_length=MAX_VARIANTS)] = Field(
        default_factory=list, description="Hashes of edited copies of the same image (crops, rotations, mirror), matched "
        "like `pdq`: what `POST /v1/media/hash?variants=true` returns, and what an entry made from an image carries.")

    @field_validator("pdq")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("variants")
    @classmethod
    def _lower_all(cls, value: list[str]) -> list[str]:
        return [v.lower() for v in value]


class EntryUpdate(BaseModel):
    """Change an entry's status (e.g. restore a quarantined entry after review) or note."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "quarantined", "removed"] | None = None
    reason: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    note: Annotated[str, StringConstraints(max_length=4_000)] | None = None


class EntryPublic(BaseModel):
    id: int
    bank: str
    pdq: str
    label: str | None
    severity: str | None
    actors: list[str]
    action: str
    source: str | None
    note: str | None
    status: Literal["active", "quarantined", "removed"]
    status_reason: str | None
    variants: list[str] = Field(description="Hashes of edited copies of the entry's image, matched like `pdq`.")
    created_by: str | None
    created_at: str
    updated_at: str


class ReleasedItem(BaseModel):
    publisher: str
    item_id: str
    before: str = Field(description="The decision the entry had a part in.")
    after: str


class EntryRelease(BaseModel):
    """Stored items whose current decision carried the entry's evidence, decided again without it."""

    items_checked: int = 0
    items_changed: int = 0
    changed: list[ReleasedItem] = Field(default_factory=list, description="The first 100 items changed.")


class EntryChanged(EntryPublic):
    released: EntryRelease | None = Field(None, description="When the entry stopped matching (removed or quarantined): "
                                          "the stored items it had blocked or held, decided again (removed: moderated "
                                          "again without it; quarantined: a block becomes hold_for_review).")


class RetroHold(BaseModel):
    publisher: str
    item_id: str
    media_id: str
    entry_id: int
    distance: int


class RetroOutcome(BaseModel):
    """Stored items whose current media matched the new entries (sent to hold_for_review)."""

    media_scanned: int = 0
    items_held: int = 0
    held: list[RetroHold] = Field(default_factory=list, description="The first 100 items held.")
    quarantined_entries: list[int] = Field(default_factory=list, description="New entries that matched more items than "
                                           "the bank's flood threshold: quarantined instead of holding those items.")


class EntriesAdded(BaseModel):
    added: int
    unchanged: int = Field(description="Hashes already in the bank (active or quarantined): left as they were.")
    entries: list[EntryPublic] = Field(description="The entries added (at most 100 listed).")
    retro: RetroOutcome


class EntryList(BaseModel):
    entries: list[EntryPublic]
    next_after_id: int | None = Field(description="Pass as after_id for the next page; null at the end.")


class VariantHash(BaseModel):
    kind: str = Field(description="The edit: crop<percent>, rot<degrees>, both joined by +, or mirror.")
    pdq: str


class MediaHash(BaseModel):
    """The PDQ hash of an uploaded image."""

    pdq: str = Field(description="64 lowercase hex characters.")
    quality: int = Field(description="PDQ quality, 0-100; below 50 the hash is too weak to match.")
    useful: bool
    format: str
    width: int
    height: int
    variants: list[VariantHash] | None = Field(None, description="With `variants=true`: the hashes of edited copies "
                                               "(crops, rotations, mirror) to store with a bank entry as its `variants`.")


class ImageEntryAdded(EntriesAdded):
    image: MediaHash = Field(description="The uploaded image's hash and quality (variants listed in the entry).")


class EntryError(ValueError):
    """An entry that cannot go into its bank; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_entry(entry: EntryCreate, bank_kind: str) -> dict:
    """The entry's columns for a bank of ``bank_kind``, actors resolved to canonical names; raises EntryError."""
    set_bits = int(entry.pdq, 16).bit_count()
    if not MIN_SET_BITS <= set_bits <= MAX_SET_BITS:
        raise EntryError("pdq", f"degenerate hash ({set_bits} of 256 bits set): a flat or synthetic image would match "
                                "everything like it")
    variants = _check_variants(entry)
    if bank_kind == "negative":
        if entry.label or entry.severity or entry.actors or entry.action not in (None, "allow"):
            raise EntryError("label", "entries of a negative bank take no label, severity, actors or action")
        return {"pdq": entry.pdq, "label": None, "severity": None, "actors": [], "action": "allow",
                "source": entry.source, "note": entry.note, "status": entry.status, "variants": variants}
    if entry.label is None:
        raise EntryError("label", "entries of a positive bank need a label: extremist_source or graphic_violence")
    if entry.action == "allow":
        raise EntryError("action", "action allow is for negative banks; use block or hold_for_review")
    if entry.label == "graphic_violence":
        if entry.severity is None:
            raise EntryError("severity", "graphic_violence needs a severity: graphic or extreme")
        if entry.actors:
            raise EntryError("actors", "actors belong to extremist_source entries")
    elif entry.severity is not None:
        raise EntryError("severity", "severity belongs to graphic_violence entries")
    actors: list[str] = []
    for i, name in enumerate(entry.actors):
        canonical = resolve_actor(name)
        if canonical is None:
            raise EntryError(f"actors.{i}", f"unknown actor {name!r}: use a canonical name or alias of actors.json")
        if canonical not in actors:
            actors.append(canonical)
    return {"pdq": entry.pdq, "label": entry.label, "severity": entry.severity, "actors": actors,
            "action": entry.action or "block", "source": entry.source, "note": entry.note, "status": entry.status,
            "variants": variants}


def _check_variants(entry: EntryCreate) -> list[str] | None:
    """The entry's variant hashes without repeats (nor its own hash); None when it has none."""
    out: list[str] = []
    for i, variant in enumerate(entry.variants):
        set_bits = int(variant, 16).bit_count()
        if not MIN_SET_BITS <= set_bits <= MAX_SET_BITS:
            raise EntryError(f"variants.{i}", f"degenerate hash ({set_bits} of 256 bits set)")
        if variant != entry.pdq and variant not in out:
            out.append(variant)
    return out or None


def resolve_actor(name: str) -> str | None:
    """Canonical actor name for a canonical name, alias, transliteration or outlet (case and accents ignored)."""
    return _actor_names().get(_key(name))


def _key(name: str) -> str:
    return " ".join(normalise(name).text.replace("-", " ").split())


@lru_cache(maxsize=1)
def _actor_names() -> dict[str, str]:
    doc = json.loads((DATA_DIR / "actors.json").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for actor in doc["actors"]:
        canonical = actor["canonical"]
        variants = [canonical, *actor.get("aliases", []), *actor.get("transliterations", []), *actor.get("misspellings", [])]
        for outlet in actor.get("outlets", []):
            variants += [outlet["name"], *outlet.get("aliases", [])]
        for variant in variants:
            names.setdefault(_key(variant), canonical)
        names[_key(canonical)] = canonical
    return names
