"""``modlabel rescan``: re-moderate stored items under the current policy, lexicon and models.

What a publisher needs when a designation list, a threshold or a model changes:
every stored item (optionally only one publisher's, or those updated since a
date) is moderated again from its stored content; each changed decision or
label set is recorded as a ``rescan`` result, which queues the CMS callback
through the outbox in the same transaction. A standing override keeps winning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import select

from service.db import contents
from service.db import items as item_queries
from service.db.models import Item


@dataclass
class RescanReport:
    scanned: int = 0
    changed: int = 0
    missing_content: int = 0
    transitions: Counter = field(default_factory=Counter)


def _signature(labels: list[dict]) -> list[tuple]:
    return sorted((lab["name"], lab.get("severity"), tuple(sorted(lab.get("actors") or ()))) for lab in labels)


def rescan(storage, moderator, *, since: datetime | None = None, publisher: str | None = None,
           batch: int = 200, progress=None) -> RescanReport:
    from service.storage import record_decision_change

    report = RescanReport()
    last_pk = 0
    while True:
        with storage.session() as session:
            query = select(Item).where(Item.id > last_pk).order_by(Item.id).limit(batch)
            if publisher:
                query = query.where(Item.publisher == publisher)
            if since is not None:
                query = query.where(Item.updated_at >= since)
            rows = list(session.exec(query).all())
        if not rows:
            return report
        for item in rows:
            last_pk = item.id
            report.scanned += 1
            with storage.session() as session:
                fresh = session.get(Item, item.id)
                content = contents.get_content(session, item_pk=fresh.id, content_hash=fresh.content_hash)
                if content is None:
                    report.missing_content += 1
                    continue
                current = item_queries.current_result(session, fresh)
                request = {**content, "id": fresh.item_id, "publisher": fresh.publisher}
                result = moderator.moderate(request)
                same = current is not None and current.decision == result["decision"] and \
                    _signature(current.labels) == _signature(result["labels"])
                if same:
                    continue
                record_decision_change(session, fresh.publisher, fresh.item_id, result, "rescan", source="rescan")
                report.changed += 1
                report.transitions[(current.decision if current else None, result["decision"])] += 1
            if progress is not None:
                progress()
