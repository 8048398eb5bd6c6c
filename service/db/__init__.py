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

__all__ = [
    "ApiKey", "AuditEvent", "Item", "ModerationResultRow", "OutboxMessage", "Override", "WebhookDelivery",
    "WebhookSecret", "current_revision", "head_revision", "is_sqlite", "make_engine", "transaction", "upgrade", "utcnow",
]
