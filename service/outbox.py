"""Callbacks to publishers through a transactional outbox.

Lifecycle of one callback::

    record_decision_change()  -> outbox row (same transaction as the new result)
    claim_due()               -> row leased: next_attempt_at = now + lease, attempts + 1
    send()                    -> POST, signed per Standard Webhooks with the newest secret,
                                 ``webhook-id: modlabel-outbox-<id>`` on every attempt
    mark_sent() / mark_failed -> delivered_at, or the next attempt after exponential backoff

A sender that dies after claiming leaves the row leased; once the lease runs out
another drain sends it again with the same webhook-id, so a receiver that
deduplicates on webhook-id sees the callback exactly once.

While the database is down nothing can be claimed: the sender's loop logs, waits
``outbox_poll_seconds`` and tries again, so pending callbacks go out as soon as it is
back (a callback sent just before the outage whose ``mark_sent`` failed goes again,
same webhook-id, after its lease).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import httpx
import orjson
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from standardwebhooks import Webhook

from service.config import Settings, get_settings
from service.db.engine import transaction
from service.db.models import ModerationResultRow, OutboxMessage, utcnow
from service.db.secrets import active_secrets

log = logging.getLogger("modlabel.outbox")

DECISION_CHANGED = "item.decision_changed"


def webhook_id_for(message_id: int) -> str:
    return f"modlabel-outbox-{message_id}"


@lru_cache(maxsize=8)
def _policy_set(policy_dir: Path | None):
    from labels.policy import load_policy_set

    return load_policy_set(policy_dir)


def callback_url_for(publisher: str, settings: Settings | None = None) -> str | None:
    """``settings.callback_urls[publisher]``, else ``callback_url`` of labels/publishers/<publisher>.json."""
    settings = settings or get_settings()
    if publisher in settings.callback_urls:
        return settings.callback_urls[publisher] or None
    pub = _policy_set(settings.policy_dir).publishers.get(publisher)
    return pub.callback_url if pub is not None else None


def enqueue(session: Session, *, publisher: str, event_type: str, data: dict, target_url: str) -> OutboxMessage:
    """Queue one callback in the caller's transaction."""
    payload = {"type": event_type, "timestamp": utcnow().isoformat(), "data": data}
    msg = OutboxMessage(publisher=publisher, event_type=event_type, payload=payload, target_url=target_url)
    session.add(msg)
    session.flush()
    return msg


def enqueue_decision_change(session: Session, *, publisher: str, item_id: str, row: ModerationResultRow,
                            previous_decision: str, reason: str, source: str, actor: str | None = None) -> OutboxMessage | None:
    """Queue ``item.decision_changed`` when the publisher has a callback URL; None otherwise."""
    settings = session.info.get("settings")
    url = callback_url_for(publisher, settings)
    if not url:
        log.info("no callback URL for publisher %s; decision change of %s not sent", publisher, item_id)
        return None
    data = {
        "publisher": publisher, "item_id": item_id, "result_id": row.id, "content_hash": row.content_hash,
        "decision": row.decision, "previous_decision": previous_decision, "allow": row.decision in ("publish", "publish_with_disclaimers"),
        "labels": row.labels, "disclaimers": row.disclaimers, "source": source, "reason": reason, "actor": actor,
        "policy_version": row.policy_version, "model_version": row.model_version,
    }
    return enqueue(session, publisher=publisher, event_type=DECISION_CHANGED, data=data, target_url=url)


def claim_due(engine: Engine, *, now: datetime | None = None, lease_seconds: float = 60.0, limit: int = 50) -> list[OutboxMessage]:
    """Lease up to ``limit`` due rows for this sender (safe with several senders)."""
    now = now or utcnow()
    claimed: list[OutboxMessage] = []
    with transaction(engine) as session:
        query = (select(OutboxMessage)
                 .where(col(OutboxMessage.delivered_at).is_(None), col(OutboxMessage.next_attempt_at).is_not(None),
                        col(OutboxMessage.next_attempt_at) <= now)
                 .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id)).limit(limit)
                 .with_for_update(skip_locked=True))
        for msg in session.exec(query).all():
            lease = now + timedelta(seconds=lease_seconds)
            stmt = (update(OutboxMessage)
                    .where(col(OutboxMessage.id) == msg.id, col(OutboxMessage.delivered_at).is_(None),
                           col(OutboxMessage.next_attempt_at) == msg.next_attempt_at)
                    .values(next_attempt_at=lease, attempts=msg.attempts + 1)
                    .execution_options(synchronize_session=False))
            if session.exec(stmt).rowcount == 1:  # type: ignore[call-overload]
                session.expunge(msg)
                msg.attempts += 1
                msg.next_attempt_at = lease
                claimed.append(msg)
    return claimed


def signed_request(msg: OutboxMessage, secret: str, *, at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and Standard Webhooks headers of one attempt."""
    at = at or utcnow()
    body = orjson.dumps(msg.payload)
    msg_id = webhook_id_for(msg.id)  # type: ignore[arg-type]
    signature = Webhook(secret).sign(msg_id, at, body.decode())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature,
               "content-type": "application/json", "user-agent": "modlabel-callbacks"}
    return body, headers


def send(engine: Engine, msg: OutboxMessage, client: httpx.Client) -> str | None:
    """POST one claimed message; returns None on a 2xx, else the error text."""
    with transaction(engine) as session:
        secrets = active_secrets(session, publisher=msg.publisher)
    if not secrets:
        return f"no active webhook secret for publisher {msg.publisher!r}"
    if not msg.target_url:
        return "no target URL"
    body, headers = signed_request(msg, secrets[0].secret)
    try:
        response = client.post(msg.target_url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:2000]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}: {response.text[:500]}"


def backoff_seconds(attempts: int, *, base: float, ceiling: float, jitter: float = 0.2) -> float:
    """Exponential: base, 2*base, 4*base, ... capped at ``ceiling``, +-jitter."""
    delay = min(base * (2 ** max(attempts - 1, 0)), ceiling)
    return delay * (1 + random.uniform(-jitter, jitter))


def mark_sent(engine: Engine, msg: OutboxMessage) -> None:
    with transaction(engine) as session:
        session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == msg.id)  # type: ignore[call-overload]
                     .values(delivered_at=utcnow(), last_error=None))


def mark_failed(engine: Engine, msg: OutboxMessage, error: str, settings: Settings) -> None:
    """Schedule the next attempt, or give up (next_attempt_at NULL) after the last one."""
    if msg.attempts >= settings.outbox_max_attempts:
        next_at = None
    else:
        delay = backoff_seconds(msg.attempts, base=settings.outbox_backoff_seconds, ceiling=settings.outbox_backoff_max_seconds)
        next_at = utcnow() + timedelta(seconds=delay)
    with transaction(engine) as session:
        session.exec(update(OutboxMessage)  # type: ignore[call-overload]
                     .where(col(OutboxMessage.id) == msg.id, col(OutboxMessage.delivered_at).is_(None))
                     .values(last_error=error, next_attempt_at=next_at))


@dataclass
class DrainReport:
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def drain_outbox(storage, *, now: datetime | None = None, client: httpx.Client | None = None,
                 max_batches: int = 20) -> DrainReport:
    """Send every due callback once (a failure is rescheduled, not retried in this call)."""
    settings: Settings = storage.settings
    storage.ensure_schema()
    report = DrainReport()
    own_client = client is None
    try:
        for _ in range(max_batches):
            batch = claim_due(storage.engine, now=now, lease_seconds=settings.outbox_lease_seconds)
            if not batch:
                break
            if client is None:  # only when something is due: a client costs an SSL context (~30 ms of CPU)
                client = httpx.Client(timeout=settings.outbox_timeout_seconds)
            for msg in batch:
                error = send(storage.engine, msg, client)
                if error is None:
                    mark_sent(storage.engine, msg)
                    report.sent.append(msg.id)  # type: ignore[arg-type]
                else:
                    log.warning("callback %s to %s failed (attempt %s): %s", msg.id, msg.target_url, msg.attempts, error)
                    mark_failed(storage.engine, msg, error, settings)
                    report.failed[msg.id] = error  # type: ignore[index]
    finally:
        if own_client and client is not None:
            client.close()
    return report


async def run_sender(storage, stop: asyncio.Event) -> None:
    """Background loop for the app's lifespan: drain, then wait ``outbox_poll_seconds`` or until stopped."""
    from service.outage import STORAGE_ERRORS

    settings: Settings = storage.settings
    while not stop.is_set():
        try:
            await asyncio.to_thread(drain_outbox, storage)
        except STORAGE_ERRORS as exc:  # the database is down: callbacks wait in the outbox until it is back
            log.warning("outbox drain skipped: database unavailable (%s); retrying in %.1f s", type(exc).__name__,
                        settings.outbox_poll_seconds)
        except Exception:  # noqa: BLE001 (the loop must outlive any failure)
            log.exception("outbox drain failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.outbox_poll_seconds)
        except asyncio.TimeoutError:
            pass
