"""Tables of the service (SQLModel). The schema itself comes from Alembic migrations.

Times are timezone-aware UTC (``utcnow()``); ``UtcDateTime`` stores them as UTC on
both backends (SQLite keeps no offset) and always returns aware UTC values.
JSON columns use SQLAlchemy's portable ``JSON`` type.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint, false
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

SOURCES = ("api", "webhook", "override", "rescan")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """A timestamp column that takes aware datetimes and returns them in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError("timestamps must be timezone-aware (use service.db.utcnow())")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.utcoffset() is None else value.astimezone(timezone.utc)


def _ts(*, nullable: bool = False, default: bool = True):
    """A UtcDateTime field, defaulting to now unless ``default`` is False."""
    kwargs = {"sa_type": UtcDateTime, "nullable": nullable}
    return Field(default_factory=utcnow, **kwargs) if default else Field(default=None, **kwargs)


class Item(SQLModel, table=True):
    """One content item of a publisher and its current decision."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("publisher", "item_id", name="uq_items_publisher_item_id"),
                      Index("ix_items_decision_since", "decision", "decision_since"))

    id: int | None = Field(default=None, primary_key=True)
    publisher: str = Field(max_length=64)
    item_id: str = Field(max_length=256)
    content_hash: str = Field(max_length=64)
    decision: str = Field(max_length=32)
    # Points at moderation_results.id; no FK constraint (the two tables refer to each other).
    current_result_id: int | None = Field(default=None)
    updated_at: datetime = _ts()
    # When the current decision was first reached (0003): the review queue is oldest first.
    decision_since: datetime | None = _ts(nullable=True, default=False)


class ModerationResultRow(SQLModel, table=True):
    """Every result ever produced for an item (api, webhook, override, rescan)."""

    __tablename__ = "moderation_results"
    __table_args__ = (Index("ix_moderation_results_item_created", "item_pk", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    item_pk: int = Field(foreign_key="items.id")
    content_hash: str = Field(max_length=64)
    decision: str = Field(max_length=32)
    labels: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    disclaimers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    policy_version: str = Field(max_length=128)
    model_version: str = Field(max_length=256)
    source: str = Field(max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The webhook delivery that produced this result: unique, so one result per webhook-id.
    delivery_id: int | None = Field(default=None, foreign_key="webhook_deliveries.id", unique=True)
    created_at: datetime = _ts()


class WebhookDelivery(SQLModel, table=True):
    """One signed pre-publish delivery, keyed by (publisher, webhook-id); holds the answer sent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("publisher", "webhook_id", name="uq_webhook_deliveries_publisher_webhook_id"),)

    id: int | None = Field(default=None, primary_key=True)
    publisher: str = Field(max_length=64)
    webhook_id: str = Field(max_length=256)
    status: str = Field(max_length=16)  # processing | done
    request_digest: str = Field(max_length=64)
    # Who holds the "processing" claim; a takeover of a stale claim changes it.
    claim_token: str | None = Field(default=None, max_length=32)
    response_status: int | None = None
    # The exact JSON bytes (UTF-8 text) of the answer, replayed byte for byte.
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class WebhookSecret(SQLModel, table=True):
    """A Standard Webhooks secret of a publisher; several may be active during a rotation."""

    __tablename__ = "webhook_secrets"
    __table_args__ = (Index("ix_webhook_secrets_publisher", "publisher"),)

    id: int | None = Field(default=None, primary_key=True)
    publisher: str = Field(max_length=64)
    secret: str = Field(max_length=128)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True, default=False)


class Override(SQLModel, table=True):
    """A moderator's decision for one item version (``service.overrides`` has the workflow).

    ``status``: pending (awaits a second moderator), active, withdrawn, superseded,
    stale (the content changed) or expired. ``decision`` and ``labels`` are the
    result the override produces; ``changes`` is what the moderator asked for.
    """

    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_publisher_item", "publisher", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    publisher: str = Field(max_length=64)
    item_id: str = Field(max_length=256)
    content_hash: str = Field(max_length=64)
    decision: str = Field(max_length=32)
    labels: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason_code: str = Field(max_length=64)
    reason_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default="active", max_length=16)
    expires_at: datetime | None = _ts(nullable=True, default=False)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    withdrawn_at: datetime | None = _ts(nullable=True, default=False)
    # 0003_moderators
    changes: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    requires_approval: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    base_result_id: int | None = None  # the result the moderator saw
    result_id: int | None = None  # the result this override made current
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = _ts(nullable=True, default=False)
    withdrawn_by: str | None = Field(default=None, max_length=64)


class AuditEvent(SQLModel, table=True):
    """Append-only record of who changed what (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_publisher_item", "publisher", "item_id"),
                      Index("ix_audit_events_action", "action"))

    id: int | None = Field(default=None, primary_key=True)
    actor_key_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    publisher: str | None = Field(default=None, max_length=64)
    item_id: str | None = Field(default=None, max_length=256)
    before: dict | list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict | list | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()


class ApiKey(SQLModel, table=True):
    """An API key (only its hash is stored); filled in by the API-keys task."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=64)
    key_hash: str = Field(max_length=128, unique=True)
    role: str = Field(max_length=16)
    publisher: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True, default=False)
    rate_limit_per_minute: int | None = Field(default=None, nullable=True,
                                              description="This key's own budget (0 = none); None = the setting's.")


class OutboxMessage(SQLModel, table=True):
    """A callback to send to a publisher; written in the transaction that changed the decision."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "delivered_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    publisher: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    target_url: str | None = Field(default=None, max_length=4096)
    attempts: int = 0
    # NULL with delivered_at NULL: given up after the last attempt.
    next_attempt_at: datetime | None = _ts(nullable=True)
    delivered_at: datetime | None = _ts(nullable=True, default=False)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _ts()
