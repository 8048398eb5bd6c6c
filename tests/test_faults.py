"""Faults: the database goes away mid-run and comes back.

PostgreSQL: a throwaway cluster (``tests/pg_cluster.py``) serves two real HTTP servers
(uvicorn in threads, one app each): one with ``webhook_fail_mode=open`` and the callback
sender, one with ``closed``. Traffic runs while ``pg_ctl stop -m fast`` cuts the database;
then the test checks what each route answers during the outage, restarts the server, and
checks readiness, storage, the outbox and that nothing was half-written.

SQLite: another connection holds the write lock; moderation still answers.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import httpx
import pytest
from standardwebhooks import Webhook

from tests.pg_cluster import PgCluster

PUBLISHER = "example-news"
ARTICLE = {
    "publisher": PUBLISHER, "title": "Militants release video",
    "body": "<p>A new video purportedly put out by the Islamic State shows bodies in the street after airstrikes.</p>"
            "<p>Residents fled the district.</p>",
}
BRIEF = {"publisher": PUBLISHER, "title": "Council approves budget",
         "body": "<p>The city council approved next year's budget on Tuesday after a long debate.</p>"}


# -- helpers -------------------------------------------------------------------------------------

class Receiver:
    """A publisher's callback endpoint: verifies signatures, counts 2xx answers per webhook-id."""

    def __init__(self, secret: str):
        self.webhook = Webhook(secret)
        self.accept = False
        self.attempts: list[tuple[str, int]] = []  # (webhook-id, status answered)
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    receiver.webhook.verify(body, {k.lower(): v for k, v in self.headers.items()})
                    status = 200 if receiver.accept else 503
                except Exception:  # noqa: BLE001 (a bad signature is a test failure, answered 400)
                    status = 400
                with receiver.lock:
                    receiver.attempts.append((self.headers.get("webhook-id", ""), status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[str]:
        with self.lock:
            return [wid for wid, status in self.attempts if status == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class AppServer:
    """One app served by uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, settings):
        import uvicorn

        from service.app import create_app

        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, lifespan="on", access_log=False,
                                log_config=None)  # leave this process's logging as it is
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not (self.server.started and self.server.servers):
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the app server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def signed_headers(secret: str, msg_id: str, body: str) -> dict:
    at = datetime.now(timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, at, body), "content-type": "application/json"}


def wait_for(predicate, seconds: float, step: float = 0.05):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


# -- PostgreSQL stopped mid-run ------------------------------------------------------------------

@pytest.fixture
def cluster():
    reason = PgCluster.unavailable()
    if reason:
        pytest.skip(f"cannot run a throwaway PostgreSQL cluster: {reason}")
    pg = PgCluster.create()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.mark.slow
def test_postgres_stopped_mid_run_degrades_then_recovers(cluster, tmp_path):
    import psycopg

    from service.auth import create_key
    from service.config import Settings
    from service.db.secrets import add_secret
    from service.storage import Storage

    base = {"DATABASE_URL": cluster.url, "data_dir": tmp_path / "data", "classifier_enabled": False,
            "migrate_on_start": True, "bootstrap_admin": False, "reload_on_sighup": False, "rate_limit_per_minute": 0,
            "key_cache_seconds": 0.2, "override_sweep_seconds": 0}
    storage = Storage(Settings(**base))
    storage.migrate()
    with storage.session() as s:
        secret = add_secret(s, publisher=PUBLISHER).secret
        cms = {"Authorization": "Bearer " + create_key(s, role="cms", publisher=PUBLISHER, actor="test")[1]}
        mod = {"Authorization": "Bearer " + create_key(s, role="moderator", publisher=PUBLISHER, actor="test")[1]}
        fresh = {"Authorization": "Bearer " + create_key(s, role="cms", publisher=PUBLISHER, actor="test")[1]}
    storage.dispose()

    receiver = Receiver(secret)
    open_app = AppServer(Settings(**base, webhook_fail_mode="open", outbox_enabled=True, outbox_poll_seconds=0.2,
                                  outbox_backoff_seconds=0.5, outbox_backoff_max_seconds=1.0,
                                  callback_urls={PUBLISHER: receiver.url}))
    closed_app = AppServer(Settings(**base, webhook_fail_mode="closed", outbox_enabled=False))
    http = httpx.Client(timeout=20)
    answers: dict[str, tuple[int, str | None, str]] = {}  # item id -> (status, X-Modlabel-Stored, content_hash)

    def moderate(item_id: str, item: dict, headers=cms, app=open_app) -> httpx.Response:
        r = http.post(app.base + "/v1/moderate", json={**item, "id": item_id}, headers=headers)
        if r.status_code == 200:
            answers[item_id] = (r.status_code, r.headers.get("x-modlabel-stored"), r.json()["content_hash"])
        return r

    def webhook(app: AppServer, msg_id: str, item_id: str) -> httpx.Response:
        body = json.dumps({**ARTICLE, "id": item_id})
        return http.post(app.base + "/v1/webhooks/pre-publish", content=body, headers=signed_headers(secret, msg_id, body))

    try:
        # -- before: everything answers and is stored -------------------------------------------
        assert http.get(open_app.base + "/readyz").status_code == 200
        assert moderate("before-1", ARTICLE).headers.get("x-modlabel-stored") is None
        for app, mid in ((open_app, "wh-before-open"), (closed_app, "wh-before-closed")):  # also caches the secrets
            r = webhook(app, mid, mid)
            assert r.status_code == 200 and "x-modlabel-stored" not in r.headers
        # A moderator's override changes the decision: one callback goes to the outbox. The publisher's
        # endpoint refuses it at first, so it is still pending when the database goes away.
        r = http.post(open_app.base + f"/v1/items/{PUBLISHER}/before-1/override", headers=mod,
                      json={"decision": "block", "reason": "policy_exception", "note": "fault test"})
        assert r.status_code == 201, r.text
        assert wait_for(lambda: receiver.attempts, 10), "the callback was never attempted"
        pending_id = receiver.attempts[0][0]
        assert not receiver.delivered()

        # -- traffic while the server stops ----------------------------------------------------
        stop_traffic = threading.Event()

        def traffic(worker: int) -> list[tuple[int, str | None]]:
            seen, n = [], 0
            with httpx.Client(timeout=20) as client:
                while not stop_traffic.is_set():
                    item_id = f"burst-{worker}-{n}"
                    r = client.post(open_app.base + "/v1/moderate", json={**BRIEF, "id": item_id, "title": f"Budget {n}"},
                                    headers=cms)
                    seen.append((r.status_code, r.headers.get("x-modlabel-stored")))
                    if r.status_code == 200:
                        answers[item_id] = (200, r.headers.get("x-modlabel-stored"), r.json()["content_hash"])
                    n += 1
            return seen

        pool = ThreadPoolExecutor(4)
        burst = [pool.submit(traffic, w) for w in range(4)]
        assert wait_for(lambda: any(k.startswith("burst-") and a[1] is None for k, a in list(answers.items())), 20)
        time.sleep(0.2)
        t_stop = time.monotonic()
        cluster.stop("fast")
        stop_seconds = time.monotonic() - t_stop
        time.sleep(0.5)  # past the key cache (0.2 s): key lookups now fail and fall back to the last read row

        # -- during the outage ----------------------------------------------------------------
        ready = [http.get(app.base + "/readyz") for app in (open_app, closed_app)]
        for r in ready:
            assert r.status_code == 503 and "database unreachable" in r.json()["error"]["message"], r.text
        r = moderate("during-1", ARTICLE)
        assert r.status_code == 200, r.text
        assert r.headers["x-modlabel-stored"] == "false"
        assert {lab["name"] for lab in r.json()["labels"]} >= {"extremist_source"}
        assert r.json()["decision"] == "publish_with_disclaimers" and r.json()["disclaimers"]
        r = moderate("during-nostore", {**ARTICLE, "publisher": PUBLISHER})  # no-id moderation never needed storage
        assert r.status_code == 200
        r = http.post(open_app.base + "/v1/moderate", json=ARTICLE, headers=fresh)  # a key never read: cannot be checked
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable" and r.headers["retry-after"]
        wh_open = webhook(open_app, "wh-during-open", "wh-during-open")
        assert wh_open.status_code == 200, wh_open.text
        assert wh_open.headers["x-modlabel-stored"] == "false" and wh_open.json()["decision"] == "publish_with_disclaimers"
        assert "Islamic State" in wh_open.json()["body_html"] and wh_open.json()["disclaimers"]
        wh_closed = webhook(closed_app, "wh-during-closed", "wh-during-closed")
        assert wh_closed.status_code == 503 and wh_closed.json()["error"]["code"] == "storage_unavailable"
        assert int(wh_closed.headers["retry-after"]) > 0
        r = http.post(open_app.base + f"/v1/items/{PUBLISHER}/before-1/override", headers=mod,
                      json={"decision": "publish", "reason": "verified"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable" and r.headers["retry-after"]
        r = http.get(open_app.base + f"/v1/items/{PUBLISHER}/before-1", headers=cms)
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"
        metrics = http.get(open_app.base + "/metrics").text
        for operation in ("moderate", "webhook", "api_key", "request"):
            assert f'modlabel_storage_unavailable_total{{operation="{operation}"}}' in metrics, operation
        receiver.accept = True  # the publisher's endpoint is back; the sender cannot claim anything yet
        time.sleep(0.6)  # a few sender polls fail meanwhile
        assert not receiver.delivered()
        stop_traffic.set()
        seen = [s for f in burst for s in f.result()]
        pool.shutdown()

        # -- back ----------------------------------------------------------------------------
        cluster.start()
        t_back = time.monotonic()
        assert wait_for(lambda: http.get(open_app.base + "/readyz").status_code == 200, 15), "readiness never recovered"
        ready_after = time.monotonic() - t_back
        assert http.get(closed_app.base + "/readyz").status_code == 200
        assert wait_for(lambda: pending_id in receiver.delivered(), 15), "the pending callback was not sent after restart"
        delivered_after = time.monotonic() - t_back
        r = moderate("after-1", ARTICLE)
        assert r.status_code == 200 and "x-modlabel-stored" not in r.headers
        again = webhook(closed_app, "wh-during-closed", "wh-during-closed")  # the CMS's retry of the refused delivery
        assert again.status_code == 200 and "x-modlabel-replayed" not in again.headers
        retry = webhook(open_app, "wh-during-open", "wh-during-open")  # answered unstored: processed afresh, now stored
        assert retry.status_code == 200 and "x-modlabel-stored" not in retry.headers
        assert "x-modlabel-replayed" not in retry.headers
        assert webhook(open_app, "wh-during-open", "wh-during-open").headers.get("x-modlabel-replayed") == "true"
        time.sleep(0.5)  # a few more sender polls: nothing is sent twice
    finally:
        http.close()
        open_app.stop()
        closed_app.stop()
        receiver.close()

    # -- what the traffic got, and what the database holds ---------------------------------------
    statuses = {status for status, _ in seen}
    assert statuses == {200}, f"moderation answered {statuses} while the database stopped"
    unstored = [a for a in seen if a[1] == "false"]
    assert unstored and len(unstored) < len(seen), "the burst did not straddle the outage"
    assert receiver.delivered().count(pending_id) == 1, receiver.attempts
    assert len(set(receiver.delivered())) == len(receiver.delivered()), "a callback was delivered twice"

    with psycopg.connect(cluster.url) as conn:
        stored = {item_id: h for item_id, h in conn.execute(
            "SELECT i.item_id, r.content_hash FROM items i JOIN moderation_results r ON r.id = i.current_result_id")}
        orphans = conn.execute("SELECT count(*) FROM items i LEFT JOIN moderation_results r "
                               "ON r.id = i.current_result_id AND r.item_pk = i.id WHERE r.id IS NULL").fetchone()[0]
        deliveries = conn.execute(
            "SELECT d.webhook_id, d.status, count(r.id) FROM webhook_deliveries d "
            "LEFT JOIN moderation_results r ON r.delivery_id = d.id GROUP BY d.webhook_id, d.status").fetchall()
        outbox = conn.execute("SELECT id, delivered_at IS NOT NULL FROM outbox").fetchall()
    assert orphans == 0, "an item without its current result"
    for item_id, (_, stored_header, content_hash) in answers.items():
        if stored_header is None and item_id != "during-nostore":
            assert stored.get(item_id) == content_hash, f"{item_id} was answered as stored but is not in the database"
        elif stored_header == "false":
            assert item_id not in stored, f"{item_id} was answered as not stored but is in the database"
    assert {wid: (status, n) for wid, status, n in deliveries} == {
        "wh-before-open": ("done", 1), "wh-before-closed": ("done", 1),
        "wh-during-closed": ("done", 1), "wh-during-open": ("done", 1)}
    assert outbox and all(done for _, done in outbox), outbox

    print(f"\nfaults: pg_ctl stop -m fast {stop_seconds:.2f} s; burst {len(seen)} moderations, {len(unstored)} unstored, "
          f"all 200; readiness back {ready_after:.2f} s after start; pending callback delivered after "
          f"{delivered_after:.2f} s; callback attempts {receiver.attempts}")


# -- SQLite: the database is locked by another writer --------------------------------------------

def test_sqlite_locked_still_moderates(tmp_path, monkeypatch):
    import sqlite3

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.auth import create_key
    from service.config import Settings
    from service.db import engine as engine_module

    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)  # wait 0.2 s for the lock, not 30 s
    settings = Settings(data_dir=tmp_path / "data", classifier_enabled=False, migrate_on_start=True, bootstrap_admin=False,
                        reload_on_sighup=False, outbox_enabled=False, override_sweep_seconds=0, rate_limit_per_minute=0,
                        key_cache_seconds=0.05)
    app = create_app(settings)
    with TestClient(app) as c:
        with app.state.services.storage.session() as s:
            cms = {"Authorization": "Bearer " + create_key(s, role="cms", publisher=PUBLISHER, actor="test")[1]}
        assert c.post("/v1/moderate", json={**ARTICLE, "id": "sq-1"}, headers=cms).headers.get("x-modlabel-stored") is None
        holder = sqlite3.connect(settings.data_dir / "modlabel.db", isolation_level=None, timeout=0.1)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            time.sleep(0.1)
            r = c.post("/v1/moderate", json={**ARTICLE, "id": "sq-2"}, headers=cms)
            assert r.status_code == 200, r.text
            assert r.headers["x-modlabel-stored"] == "false"
            assert r.json()["decision"] == "publish_with_disclaimers"
            r = c.get(f"/v1/items/{PUBLISHER}/sq-1", headers=cms)
            assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"
        finally:
            holder.rollback()
            holder.close()
        r = c.post("/v1/moderate", json={**ARTICLE, "id": "sq-3"}, headers=cms)
        assert r.status_code == 200 and "x-modlabel-stored" not in r.headers
        assert c.get(f"/v1/items/{PUBLISHER}/sq-2", headers=cms).status_code == 404  # not half-written
        assert c.get(f"/v1/items/{PUBLISHER}/sq-3", headers=cms).status_code == 200
