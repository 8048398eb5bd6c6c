"""Persistence: SQLModel tables, engines, Alembic migrations and the queries the service runs."""

from service.db.engine import is_sqlite, make_engine, transaction
from service.db.migrate import current_revision, head_revision, upgrade
from service.db.models import (
    ApiKey,
    AuditEvent,
    Item,
    ModerationResultRow,
    OutboxMessage,
    Override,
    WebhookDelivery,
    WebhookSecret,
    utcnow,
)
from service.db.bank_models import HashBank, HashBankEntry, HashEntryHit, ItemMedia  # hash banks (0002)
from service.db.moderation_models import ItemContent, ReviewClaim  # moderators (0003)

__all__ = [
    "ApiKey", "AuditEvent", "Item", "ModerationResultRow", "OutboxMessage", "Override", "WebhookDelivery",
    "WebhookSecret", "current_revision", "head_revision", "is_sqlite", "make_engine", "transaction", "upgrade", "utcnow",
]
__all__ += ["HashBank", "HashBankEntry", "HashEntryHit", "ItemMedia"]
__all__ += ["ItemContent", "ReviewClaim"]
