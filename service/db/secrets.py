"""Standard Webhooks secrets per publisher: several may be active at once during a rotation."""

from __future__ import annotations

import base64
import secrets as _secrets

from sqlmodel import Session, col, select

from service.db.models import WebhookSecret, utcnow

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh ``whsec_`` secret: 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def add_secret(session: Session, *, publisher: str, secret: str | None = None) -> WebhookSecret:
    row = WebhookSecret(publisher=publisher, secret=secret or new_secret())
    session.add(row)
    session.flush()
    return row


def active_secrets(session: Session, *, publisher: str) -> list[WebhookSecret]:
    """Active secrets, newest first."""
    query = (select(WebhookSecret)
             .where(WebhookSecret.publisher == publisher, col(WebhookSecret.revoked_at).is_(None))
             .order_by(col(WebhookSecret.created_at).desc(), col(WebhookSecret.id).desc()))
    return list(session.exec(query).all())


def revoke_secret(session: Session, *, publisher: str, secret_id: int) -> bool:
    row = session.get(WebhookSecret, secret_id)
    if row is None or row.publisher != publisher or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.add(row)
    return True
