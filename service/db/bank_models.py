"""Hash-bank tables (migrations ``0002_hash_banks``, ``0005_bank_entry_variants``): banks, entries, entry hits, stored media hashes.

A *bank* is a named list of PDQ hashes, global (``publisher`` NULL) or one
publisher's. A *positive* bank's entries label and block or hold matching media;
a *negative* bank lists known-good images (a publisher's own archive): media
matching one of its entries is never matched against positive entries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db.models import _ts

BANK_KINDS = ("positive", "negative")
ENTRY_ACTIONS = ("block", "hold_for_review", "allow")  # "allow": the entries of negative banks
ENTRY_STATUSES = ("active", "quarantined", "removed")
ENTRY_LABELS = ("extremist_source", "graphic_violence")


class HashBank(SQLModel, table=True):
    """A named list of PDQ hashes with its match distance and flood settings."""

    __tablename__ = "hash_banks"
    __table_args__ = (Index("ix_hash_banks_publisher", "publisher"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    publisher: str | None = Field(default=None, max_length=64)  # None: every publisher
    kind: str = Field(max_length=16)
    distance: int = 31
    flood_threshold: int | None = None  # None: no flood control
    flood_window_seconds: int = 86_400
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class HashBankEntry(SQLModel, table=True):
    """One hash of a bank, what a match means (label, actors, action) and its status."""

    __tablename__ = "hash_bank_entries"
    __table_args__ = (
        UniqueConstraint("pdq", "bank_id", name="uq_hash_bank_entries_pdq_bank"),
        Index("ix_hash_bank_entries_bank_status", "bank_id", "status"),
        Index("ix_hash_bank_entries_updated", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bank_id: int = Field(foreign_key="hash_banks.id")
    pdq: str = Field(max_length=64)
    label: str | None = Field(default=None, max_length=32)
    severity: str | None = Field(default=None, max_length=16)
    actors: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    action: str = Field(max_length=24)
    source: str | None = Field(default=None, max_length=256)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Hashes of edited copies of the image the entry was made from (crops, rotations, mirror; migration
    # 0005): matched like ``pdq``. None for entries made from a hash alone.
    variants: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default="active", max_length=16)
    status_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class HashEntryHit(SQLModel, table=True):
    """An entry matched an item (first and last time): flood control counts these per window."""

    __tablename__ = "hash_entry_hits"
    __table_args__ = (
        UniqueConstraint("entry_id", "publisher", "item_id", name="uq_hash_entry_hits_entry_item"),
        Index("ix_hash_entry_hits_entry_seen", "entry_id", "last_seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="hash_bank_entries.id")
    publisher: str = Field(max_length=64)
    item_id: str = Field(max_length=256)  # the item's id, or "~<content hash>" for ad-hoc calls
    first_seen_at: datetime = _ts()
    last_seen_at: datetime = _ts()


class ItemMedia(SQLModel, table=True):
    """The PDQ hash of each media item of a stored item's current content (retroactive matching)."""

    __tablename__ = "item_media"
    __table_args__ = (UniqueConstraint("item_pk", "media_id", name="uq_item_media_item_media"),)

    id: int | None = Field(default=None, primary_key=True)
    item_pk: int = Field(foreign_key="items.id")
    media_id: str = Field(max_length=256)
    position: int
    pdq: str = Field(max_length=64)
    content_hash: str = Field(max_length=64)
    updated_at: datetime = _ts()
