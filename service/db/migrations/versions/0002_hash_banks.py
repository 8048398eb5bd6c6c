"""Hash banks: banks, entries, per-entry match hits (flood control) and stored media hashes.

Revision ID: 0002_hash_banks
Revises: 0001_initial
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_hash_banks"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hash_banks",
        sa.Column("id", sa.Integer(), primary_key=True),
        # Bank names are unique: evidence sources name the bank ("hash:<bank>:<entry>:d=<n>").
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        # NULL: a global bank that applies to every publisher.
        sa.Column("publisher", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),  # positive | negative
        sa.Column("distance", sa.Integer(), nullable=False),
        # Flood control: an entry matching more than flood_threshold distinct items within
        # flood_window_seconds is quarantined; NULL threshold turns it off for the bank.
        sa.Column("flood_threshold", sa.Integer(), nullable=True),
        sa.Column("flood_window_seconds", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_hash_banks_publisher", "hash_banks", ["publisher"])
    op.create_table(
        "hash_bank_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bank_id", sa.Integer(), sa.ForeignKey("hash_banks.id"), nullable=False),
        sa.Column("pdq", sa.String(64), nullable=False),
        sa.Column("label", sa.String(32), nullable=True),  # extremist_source | graphic_violence (positive banks)
        sa.Column("severity", sa.String(16), nullable=True),
        sa.Column("actors", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),  # block | hold_for_review
        sa.Column("source", sa.String(256), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),  # active | quarantined | removed
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        # pdq first: looking hashes up by value must not depend on the planner's view of bank_id.
        sa.UniqueConstraint("pdq", "bank_id", name="uq_hash_bank_entries_pdq_bank"),
    )
    op.create_index("ix_hash_bank_entries_bank_status", "hash_bank_entries", ["bank_id", "status"])
    # Matchers in every process poll for entries changed since their last look.
    op.create_index("ix_hash_bank_entries_updated", "hash_bank_entries", ["updated_at"])
    op.create_table(
        "hash_entry_hits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("hash_bank_entries.id"), nullable=False),
        sa.Column("publisher", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(256), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("entry_id", "publisher", "item_id", name="uq_hash_entry_hits_entry_item"),
    )
    op.create_index("ix_hash_entry_hits_entry_seen", "hash_entry_hits", ["entry_id", "last_seen_at"])
    op.create_table(
        "item_media",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_pk", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("media_id", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),  # index in the item's media list
        sa.Column("pdq", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("item_pk", "media_id", name="uq_item_media_item_media"),
    )


def downgrade() -> None:
    for name in ("item_media", "hash_entry_hits", "hash_bank_entries", "hash_banks"):
        op.drop_table(name)
