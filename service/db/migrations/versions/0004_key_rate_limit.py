"""API keys: an optional rate limit of their own (requests per minute).

Revision ID: 0004_key_rate_limit
Revises: 0003_moderators
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_key_rate_limit"
down_revision = "0003_moderators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: the key follows MODLABEL_RATE_LIMIT_PER_MINUTE; 0: no limit; N: N requests a minute.
    op.add_column("api_keys", sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rate_limit_per_minute")
