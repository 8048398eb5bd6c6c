"""Fixtures shared by every test module. Keep them generic; add yours below.

- The whole run uses a throwaway data directory, and ``DATABASE_URL`` is taken out
  of the environment (kept as a PostgreSQL candidate), so apps built in tests use
  their own embedded SQLite and never a developer's database.
- ``db_url`` is parametrised over ``sqlite`` (a file in the test's tmp dir) and
  ``postgresql`` (a fresh database ``modlabel_test_<random>`` for the session,
  dropped at the end; skipped with the reason when no server answers). The server
  is ``MODLABEL_TEST_POSTGRES_URL``, else ``DATABASE_URL``, else 127.0.0.1:5432.
- ``storage`` is a migrated ``service.storage.Storage`` on that backend, emptied
  before each test; ``make_settings(**overrides)`` builds Settings for it.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

_ORIGINAL_DATABASE_URL = os.environ.pop("DATABASE_URL", None)
_ORIGINAL_DATABASE_URL = os.environ.pop("MODLABEL_DATABASE_URL", None) or _ORIGINAL_DATABASE_URL
_DATA_DIR = tempfile.mkdtemp(prefix="modlabel-test-")
atexit.register(shutil.rmtree, _DATA_DIR, ignore_errors=True)
os.environ["MODLABEL_DATA_DIR"] = _DATA_DIR

TABLES = ("outbox", "api_keys", "audit_events", "overrides", "webhook_secrets", "moderation_results",
          "webhook_deliveries", "items")
TABLES += ("hash_entry_hits", "item_media", "hash_bank_entries", "hash_banks")  # hash banks (0002)
TABLES += ("review_claims", "item_contents")  # moderators (0003)


def postgres_server_url() -> str | None:
    """The PostgreSQL server tests may use, or None when none is configured or answering."""
    url = os.environ.get("MODLABEL_TEST_POSTGRES_URL") or _ORIGINAL_DATABASE_URL
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return "postgresql://postgres@127.0.0.1:5432/postgres"
    except OSError:
        return None


def _psycopg_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database():
    """A fresh PostgreSQL database for this session (URL), dropped afterwards; skips without a server."""
    server = postgres_server_url()
    if server is None:
        pytest.skip("PostgreSQL not available: set MODLABEL_TEST_POSTGRES_URL or DATABASE_URL, or run a server on 127.0.0.1:5432")
    import psycopg

    admin = _psycopg_url(server)
    name = f"modlabel_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at {server} refused a test database: {exc}")
    try:
        yield _with_database(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A database URL per backend (SQLite file in tmp_path, or the session's PostgreSQL database)."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'data' / 'modlabel.db').resolve()}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def make_settings(db_url, tmp_path):
    """Settings bound to ``db_url``, a private data dir, no classifier and no background sender."""
    from service.config import Settings

    def make(**overrides):
        values = {"data_dir": tmp_path / "data", "classifier_enabled": False, "outbox_enabled": False,
                  "migrate_on_start": True, "bootstrap_admin": False}
        if not db_url.startswith("sqlite"):
            values["DATABASE_URL"] = db_url
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def storage(make_settings, db_url):
    """A migrated, empty Storage on the test's backend (SQLite: embedded mode in the test's data dir)."""
    from sqlalchemy import text

    from service.storage import Storage

    settings = make_settings()
    store = Storage(settings)
    store.migrate()
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield store
    store.dispose()


@pytest.fixture
def auth(storage):
    """API keys on the test's storage: ``auth("cms", "example-news")`` -> ``{"Authorization": "Bearer mlk_..."}``.

    ``auth()`` is a global admin. The same role and publisher give the same key within a test.
    """
    from tests.support import bearer

    made: dict[tuple, dict] = {}

    def make(role: str = "admin", publisher: str | None = None, *, fresh: bool = False) -> dict[str, str]:
        if fresh or (role, publisher) not in made:
            made[(role, publisher)] = bearer(storage, role, publisher)
        return made[(role, publisher)]

    return make


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared next to the checkout (test data staged for the team)."""
    return Path(__file__).resolve().parents[2] / "shared"


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs a PostgreSQL server (skipped with the reason when none answers)")
