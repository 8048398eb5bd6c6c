"""Service processes on loopback sharing one fresh PostgreSQL database (scripts/exactly_once.py, bench/soak.py).

    admin = server_url(None)                      # the PostgreSQL server to create the run's database on
    db = prepare_database(admin, prefix="soak")   # fresh database, migrated, a webhook secret (db.url, db.secret)
    procs, bases = start_servers(db.url, 2, {...}, log_dir=...)   # `uvicorn service.main:app`, one port each
    ... signed_headers(secret, webhook_id, body) ... webhook_rows(db.url) ...
    stop_servers(procs); drop_database(admin, db.url)

Each server is its own process (what ``--workers 2`` runs, with the balancing left to
the caller), started in its own process group and stopped with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook

from bench.http import cpu_seconds, free_port, rss_mb

REPO = Path(__file__).resolve().parents[1]
PUBLISHER = "example-news"

__all__ = ["PUBLISHER", "Database", "cpu_seconds", "create_keys", "drop_database", "free_port", "prepare_database",
           "rss_mb", "server_url", "signed_headers", "start_servers", "stop_servers", "webhook_rows"]


def server_url(arg: str | None) -> str:
    """``arg``, else MODLABEL_TEST_POSTGRES_URL, else DATABASE_URL, else the local server (psycopg form)."""
    url = arg or os.environ.get("MODLABEL_TEST_POSTGRES_URL") or os.environ.get("DATABASE_URL") \
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass(frozen=True)
class Database:
    """The run's database: its URL and the publisher's webhook secret."""

    url: str
    secret: str


def prepare_database(admin: str, *, prefix: str = "eo") -> Database:
    """Create ``modlabel_<prefix>_<random>`` on the server, migrate it, add a webhook secret for PUBLISHER."""
    name = f"modlabel_{prefix}_{secrets.token_hex(5)}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    from service.db.engine import make_engine, transaction
    from service.db.migrate import upgrade
    from service.db.secrets import add_secret

    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        upgrade(engine)
        with transaction(engine) as session:
            secret = add_secret(session, publisher=PUBLISHER).secret
    finally:
        engine.dispose()
    return Database(url, secret)


def create_keys(url: str, roles: list[tuple[str, str | None]]) -> list[str]:
    """API keys (role, publisher) stored in the run's database; the keys, in order."""
    from service.auth import create_key
    from service.db.engine import make_engine, transaction

    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with transaction(engine) as session:
            return [create_key(session, role=role, publisher=publisher, actor="bench")[1] for role, publisher in roles]
    finally:
        engine.dispose()


def drop_database(admin: str, url: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def start_servers(url: str, n: int, env_extra: dict, *, log_dir: Path | None = None,
                  timeout: float = 120) -> tuple[list[subprocess.Popen], list[str]]:
    """``n`` processes of ``uvicorn service.main:app`` on free ports, answering /healthz; (processes, base URLs).

    The environment drops every MODLABEL_* variable of the caller, then sets the database,
    a private data dir, no callback sender and no bootstrap key, then ``env_extra``.
    With ``log_dir``, each server's output goes to ``server-<i>.log`` there.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODLABEL_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"DATABASE_URL": url, "MODLABEL_DATA_DIR": str(Path("/tmp") / f"modlabel-lb-{os.getpid()}"),
                "MODLABEL_OUTBOX_ENABLED": "false", "MODLABEL_BOOTSTRAP_ADMIN": "false", **env_extra})
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    procs: list[subprocess.Popen] = []
    bases: list[str] = []
    try:
        for i in range(n):
            port = free_port()
            out = open(log_dir / f"server-{i}.log", "ab") if log_dir is not None else None
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "service.main:app", "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning", "--no-access-log"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True))
            if out is not None:
                out.close()  # the child holds its own descriptor
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + timeout
        for proc, base in zip(procs, bases):
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"server {base} exited with {proc.returncode} before answering")
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"server {base} did not answer /healthz within {timeout:.0f} s")
                time.sleep(0.2)
    except BaseException:
        stop_servers(procs)
        raise
    return procs, bases


def stop_servers(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to each server's process group, SIGKILL to what is left after 15 s."""
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the group start_new_session gave it
    except ProcessLookupError:
        pass


def signed_headers(secret: str, webhook_id: str, body: str, *, at: datetime | None = None) -> dict[str, str]:
    """Standard Webhooks headers for one attempt (signed afresh each time, as a CMS retry is)."""
    at = at or datetime.now(timezone.utc)
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, at, body), "content-type": "application/json"}


def webhook_rows(url: str) -> dict:
    """Per webhook-id (delivery status, stored results), and the totals of results and items."""
    with psycopg.connect(url) as conn:
        per_id = conn.execute(
            "SELECT d.webhook_id, d.status, count(r.id) FROM webhook_deliveries d "
            "LEFT JOIN moderation_results r ON r.delivery_id = d.id GROUP BY d.webhook_id, d.status").fetchall()
        results = conn.execute("SELECT count(*) FROM moderation_results").fetchone()[0]
        items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    return {"per_id": {wid: (status, n) for wid, status, n in per_id}, "results": results, "items": items}
