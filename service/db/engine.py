"""Engines and sessions: SQLite (WAL, busy timeout, immediate transactions) or PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.engine import make_url
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url``; SQLite files get their directory created (on first connect) and safe pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size, pool_timeout=30)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "do_connect")
    def _make_dir(*_args) -> None:
        # Created on first connection, not when the app is merely built (e.g. for `modlabel openapi`).
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (see below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # Take the write lock up front: a deferred transaction that later writes can fail
        # with "database is locked" without waiting for the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class _Gate:
    """At most ``slots`` transactions at once across threads; a thread's nested transaction passes freely.

    - SQLite (one slot per database file in this process): one writer at a time, and every transaction
      here takes the write lock at BEGIN (above). Threads queue for it here: a waiter in SQLite's busy
      handler sleeps in steps of up to 100 ms and may oversleep the lock's release (a convoy when the
      holder also waits for the GIL), whereas a thread blocked here wakes as soon as it is released.
      Other processes still meet the busy handler.
    - A server database (the pool's size): more transactions at once than the pool holds would open
      overflow connections, each connected for one transaction and closed after it (a new server
      process each time); waiting here for a pooled one is far cheaper.

    A wait longer than the pool's (SQLite: the busy) timeout raises what the pool (SQLite) would have.
    """

    def __init__(self, slots: int, timeout: float, error):
        self._slots = threading.BoundedSemaphore(slots)
        self._timeout = timeout
        self._error = error
        self._held = threading.local()

    def acquire(self) -> None:
        depth = getattr(self._held, "depth", 0)
        if depth == 0 and not self._slots.acquire(timeout=self._timeout):
            raise self._error()
        self._held.depth = depth + 1

    def release(self) -> None:
        self._held.depth -= 1
        if self._held.depth == 0:
            self._slots.release()


def _sqlite_locked() -> Exception:
    return OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))


def _pool_exhausted() -> Exception:
    return PoolTimeoutError("no database connection became free in time (all pooled connections in use)")


_GATES: dict[str, _Gate] = {}  # SQLite: per database file
_ENGINE_GATES: weakref.WeakKeyDictionary[Engine, _Gate] = weakref.WeakKeyDictionary()
_GATES_LOCK = threading.Lock()


def _gate(engine: Engine) -> _Gate | None:
    gate = _ENGINE_GATES.get(engine)
    if gate is not None:
        return gate
    with _GATES_LOCK:
        gate = _ENGINE_GATES.get(engine)
        if gate is None:
            if engine.dialect.name == "sqlite":
                gate = _GATES.setdefault(str(engine.url), _Gate(1, SQLITE_BUSY_TIMEOUT_MS / 1000, _sqlite_locked))
            else:
                size = getattr(engine.pool, "size", None)
                if not callable(size):
                    return None  # a pool without a fixed size (NullPool, StaticPool): nothing to wait for
                gate = _Gate(max(1, size()), getattr(engine.pool, "_timeout", 30.0), _pool_exhausted)
            _ENGINE_GATES[engine] = gate
    return gate


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session in one transaction: committed on success, rolled back on any error."""
    gate = _gate(engine)
    if gate is not None:
        gate.acquire()
    try:
        with Session(engine, expire_on_commit=False) as session:
            with session.begin():
                yield session
    finally:
        if gate is not None:
            gate.release()
