"""Tables of the moderator workflow (migration ``0003_moderators``): item contents and review claims.

Overrides, audit events and API keys live in ``service.db.models`` (created by 0001).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db.models import _ts


class ItemContent(SQLModel, table=True):
    """The content an item had under one content hash (what overrides and the moderator page read)."""

    __tablename__ = "item_contents"
    __table_args__ = (UniqueConstraint("item_pk", "content_hash", name="uq_item_contents_item_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    item_pk: int = Field(foreign_key="items.id")
    content_hash: str = Field(max_length=64)
    title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    content: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()


class ReviewClaim(SQLModel, table=True):
    """A moderator working an item; another moderator cannot claim it until ``expires_at``."""

    __tablename__ = "review_claims"

    id: int | None = Field(default=None, primary_key=True)
    item_pk: int = Field(foreign_key="items.id", unique=True)
    claimed_by: str = Field(max_length=64)
    claimed_at: datetime = _ts()
    expires_at: datetime = _ts()
