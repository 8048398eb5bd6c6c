"""Moderators: item contents, review claims, override workflow columns, decision_since on items.

Revision ID: 0003_moderators
Revises: 0002_hash_banks
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_moderators"
down_revision = "0002_hash_banks"
branch_labels = None
depends_on = None

_OVERRIDE_COLUMNS = ("changes", "requires_approval", "base_result_id", "result_id", "approved_by", "approved_at",
                     "withdrawn_by")


def upgrade() -> None:
    # The content a result was computed from (one row per item and content hash): overrides
    # re-derive disclaimers from it, and the moderator page shows it.
    op.create_table(
        "item_contents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_pk", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("item_pk", "content_hash", name="uq_item_contents_item_hash"),
    )
    # At most one moderator works an item at a time; a claim lapses at expires_at.
    op.create_table(
        "review_claims",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("item_pk", sa.Integer(), sa.ForeignKey("items.id"), nullable=False, unique=True),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("overrides", sa.Column("changes", sa.JSON(), nullable=True))
    op.add_column("overrides", sa.Column("requires_approval", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("overrides", sa.Column("base_result_id", sa.Integer(), nullable=True))
    op.add_column("overrides", sa.Column("result_id", sa.Integer(), nullable=True))
    op.add_column("overrides", sa.Column("approved_by", sa.String(64), nullable=True))
    op.add_column("overrides", sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("overrides", sa.Column("withdrawn_by", sa.String(64), nullable=True))
    # When the current decision was first reached: the review queue is oldest first.
    op.add_column("items", sa.Column("decision_since", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE items SET decision_since = updated_at")
    op.create_index("ix_items_decision_since", "items", ["decision", "decision_since"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_action", table_name="audit_events")
    op.drop_index("ix_items_decision_since", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("decision_since")
    with op.batch_alter_table("overrides") as batch:
        for name in _OVERRIDE_COLUMNS:
            batch.drop_column(name)
    op.drop_table("review_claims")
    op.drop_table("item_contents")
