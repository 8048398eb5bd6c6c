"""Hash-bank entries: variant hashes of the image an entry was made from (crops, rotations, mirror).

Revision ID: 0005_bank_entry_variants
Revises: 0004_key_rate_limit
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_bank_entry_variants"
down_revision = "0004_key_rate_limit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A JSON list of 64-hex PDQ hashes, matched like the entry's own; NULL for entries made from a hash alone.
    op.add_column("hash_bank_entries", sa.Column("variants", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hash_bank_entries") as batch:
        batch.drop_column("variants")
