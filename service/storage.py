"""The service's database: one engine, migrations at start, one transaction per unit of work.

``Storage(settings)`` chooses SQLite in ``settings.data_dir`` or ``DATABASE_URL``.
Embedded SQLite migrates itself (at start, and lazily before the first session,
so an app used without its lifespan still works); a server database is migrated
with ``modlabel db upgrade`` unless ``MODLABEL_MIGRATE_ON_START`` says otherwise.

``record_decision_change`` is what overrides and rescans call: it stores the new
result as the item's current one and, in the same transaction, queues a callback
to the publisher when the decision changed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio

from sqlalchemy import text
from sqlmodel import Session

from service.config import Settings
from service.db import items as item_queries
from service.db.engine import make_engine, transaction
from service.db.migrate import current_revision, head_revision, upgrade
from service.db.models import ModerationResultRow

__all__ = ["Storage", "lifespan", "record_decision_change", "store_result"]

store_result = item_queries.store_result


class Storage:
    """Engine plus migrations; ``session()`` is one transaction."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.url = settings.sqlalchemy_url
        self.embedded = settings.database_url is None
        self.engine = make_engine(self.url, pool_size=settings.db_pool_size)
        auto = settings.migrate_on_start
        self.auto_migrate = self.embedded if auto is None else auto
        self._migrated = False
        self._lock = threading.Lock()

    def migrate(self) -> str | None:
        """Bring the schema to the newest revision (safe to call from several processes)."""
        revision = upgrade(self.engine)
        self._migrated = True
        return revision

    def ensure_schema(self) -> None:
        """Migrate once per process when this storage migrates itself."""
        if self._migrated or not self.auto_migrate:
            return
        with self._lock:
            if not self._migrated:
                self.migrate()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        self.ensure_schema()
        with transaction(self.engine) as session:
            session.info["settings"] = self.settings
            yield session

    def problems(self) -> list[str]:
        """What keeps the database from serving: unreachable, or not at the newest revision."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = current_revision(self.engine)
        except Exception as exc:  # noqa: BLE001 (readiness reports any failure)
            return [f"database unreachable: {type(exc).__name__}"]
        head = head_revision()
        if current != head:
            return [f"database schema at {current or 'nothing'}, expected {head} (run `modlabel db upgrade`)"]
        return []

    def dispose(self) -> None:
        self.engine.dispose()


@asynccontextmanager
async def lifespan(app) -> AsyncIterator[None]:
    """App lifespan: migrate (embedded mode), run the callback sender, dispose of the engine at the end."""
    from service.outbox import run_sender

    storage: Storage = app.state.services.storage
    await anyio.to_thread.run_sync(storage.ensure_schema)
    banks = getattr(app.state.services, "banks", None)
    if banks is not None:  # load the hash banks before the first request
        await anyio.to_thread.run_sync(banks.refresh_quietly)
    stop = asyncio.Event()
    sender = asyncio.create_task(run_sender(storage, stop)) if storage.settings.outbox_enabled else None
    try:
        yield
    finally:
        stop.set()
        if sender is not None:
            await sender
        storage.dispose()


def record_decision_change(session: Session, publisher: str, item_id: str, new_result: dict, reason: str, *,
                           source: str | None = None, actor: str | None = None) -> ModerationResultRow:
    """Store ``new_result`` (an override's or a rescan's) as current; queue a callback if the decision changed.

    ``source`` defaults to ``reason`` when that is "override" or "rescan", else "override".
    Runs inside the caller's transaction and does not commit.
    """
    from service import outbox

    if source is None:
        source = reason if reason in ("override", "rescan") else "override"
    row, previous = item_queries.store_result(session, publisher=publisher, item_id=item_id, result=new_result,
                                              source=source, reason=reason, actor=actor)
    from service.db.models import Item

    became_current = session.get(Item, row.item_pk).current_result_id == row.id  # an override may stand over it
    if previous is not None and previous != row.decision and became_current:
        outbox.enqueue_decision_change(session, publisher=publisher, item_id=item_id, row=row,
                                       previous_decision=previous, reason=reason, source=source, actor=actor)
    return row
