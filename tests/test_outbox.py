"""Callbacks: queued with the decision change, signed, retried with backoff, delivered once despite a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select
from standardwebhooks import Webhook

from service.db import OutboxMessage
from service.db import items as q
from service.db.models import utcnow
from service.db.secrets import add_secret
from service.outbox import backoff_seconds, claim_due, drain_outbox, webhook_id_for
from service.storage import Storage, record_decision_change


class Receiver:
    """A local CMS endpoint: verifies signatures, deduplicates on webhook-id."""

    def __init__(self, secret: str, fail_first: int = 0, hang_first: bool = False):
        self.secret, self.fail_first, self.hang_first = secret, fail_first, hang_first
        self.requests: list[str] = []           # every webhook-id received, repeats included
        self.processed: dict[str, dict] = {}    # webhook-id -> payload, each acted on once
        self.got_first = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                Webhook(receiver.secret).verify(body, headers)  # raises on a bad signature
                msg_id = headers["webhook-id"]
                receiver.requests.append(msg_id)
                n = len(receiver.requests)
                if n <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.processed.setdefault(msg_id, json.loads(body))  # deduplicate on webhook-id
                if n == 1 and receiver.hang_first:  # acted on, but the answer never reaches the sender
                    receiver.got_first.set()
                    receiver.release.wait(10)
                    return
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/modlabel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def secret(storage):
    with storage.session() as s:
        add_secret(s, publisher="p", secret="whsec_" + "b2xkZXJzZWNyZXRvbGRlcnNlY3JldG9sZGVyc2VjcmU=")
        time.sleep(0.01)
        return add_secret(s, publisher="p").secret  # the newest one signs


def result(decision):
    return {"content_hash": "h", "decision": decision, "labels": [], "disclaimers": [], "policy_version": "p", "model_version": "m"}


def queue_change(storage, url):
    store = Storage(storage.settings.model_copy(update={"callback_urls": {"p": url}}))
    with store.session() as s:
        q.store_result(s, publisher="p", item_id="a1", result=result("publish"), source="webhook")
    with store.session() as s:
        record_decision_change(s, "p", "a1", result("hold_for_review"), "override")
    store.dispose()


def outbox_row(storage) -> OutboxMessage:
    with storage.session() as s:
        return s.exec(select(OutboxMessage)).one()


def test_callback_is_signed_with_the_newest_secret_and_delivered(storage, secret):
    rx = Receiver(secret)
    try:
        queue_change(storage, rx.url)
        report = drain_outbox(storage)
        assert report.sent == [1] and report.failed == {}
        assert rx.requests == [webhook_id_for(1)]
        payload = rx.processed[webhook_id_for(1)]
        assert payload["type"] == "item.decision_changed"
        assert payload["data"]["decision"] == "hold_for_review" and payload["data"]["previous_decision"] == "publish"
        row = outbox_row(storage)
        assert row.delivered_at is not None and row.attempts == 1
        assert drain_outbox(storage).sent == []  # nothing left
    finally:
        rx.close()


def test_failures_back_off_exponentially_then_succeed(storage, secret):
    rx = Receiver(secret, fail_first=2)
    try:
        queue_change(storage, rx.url)
        first = drain_outbox(storage)
        assert list(first.failed) == [1] and "HTTP 500" in first.failed[1]
        row = outbox_row(storage)
        base = storage.settings.outbox_backoff_seconds
        delay1 = (row.next_attempt_at - utcnow()).total_seconds()
        assert 0.7 * base <= delay1 <= 1.3 * base
        assert drain_outbox(storage).sent == []  # not due yet
        drain_outbox(storage, now=row.next_attempt_at + timedelta(seconds=1))
        row2 = outbox_row(storage)
        assert row2.attempts == 2 and (row2.next_attempt_at - utcnow()).total_seconds() > 1.4 * base
        assert drain_outbox(storage, now=row2.next_attempt_at + timedelta(seconds=1)).sent == [1]
        assert outbox_row(storage).attempts == 3 and len(rx.processed) == 1
    finally:
        rx.close()


def test_backoff_is_capped():
    assert backoff_seconds(1, base=5, ceiling=60, jitter=0) == 5
    assert backoff_seconds(4, base=5, ceiling=60, jitter=0) == 40
    assert backoff_seconds(30, base=5, ceiling=60, jitter=0) == 60


def test_gives_up_after_the_last_attempt(storage, secret):
    storage.settings = storage.settings.model_copy(update={"outbox_max_attempts": 1})
    queue_change(storage, "http://127.0.0.1:9/closed")
    assert list(drain_outbox(storage).failed) == [1]
    row = outbox_row(storage)
    assert row.next_attempt_at is None and row.delivered_at is None and row.last_error


def _child_env(storage) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODLABEL_")}
    env["DATABASE_URL"] = storage.url
    env["MODLABEL_OUTBOX_LEASE_SECONDS"] = "30"
    return env


def test_sender_killed_after_sending_redelivers_with_the_same_id_once(storage, secret):
    """The receiver got the callback, the sender was killed before recording it: sent again, seen once."""
    rx = Receiver(secret, hang_first=True)
    try:
        queue_change(storage, rx.url)
        child = subprocess.Popen([sys.executable, "-c", "from service.config import Settings; from service.storage import Storage; "
                                  "from service.outbox import drain_outbox; drain_outbox(Storage(Settings()))"],
                                 env=_child_env(storage))
        assert rx.got_first.wait(30), "the sender subprocess never called the receiver"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        row = outbox_row(storage)
        assert row.delivered_at is None and row.attempts == 1
        assert drain_outbox(storage).sent == []  # still leased to the dead sender
        report = drain_outbox(storage, now=row.next_attempt_at + timedelta(seconds=1))
        assert report.sent == [1]
        assert rx.requests == [webhook_id_for(1)] * 2  # the same webhook-id both times
        assert len(rx.processed) == 1  # the receiver's dedup saw it exactly once
        assert outbox_row(storage).attempts == 2 and outbox_row(storage).delivered_at is not None
    finally:
        rx.close()


def test_sender_dying_after_its_claim_sends_once_after_the_lease(storage, secret):
    rx = Receiver(secret)
    try:
        queue_change(storage, rx.url)
        subprocess.run([sys.executable, "-c", "import os; from service.config import Settings; from service.storage import Storage; "
                        "from service.outbox import claim_due; s = Storage(Settings()); "
                        "assert len(claim_due(s.engine, lease_seconds=30)) == 1; os._exit(9)"],
                       env=_child_env(storage), check=False)
        row = outbox_row(storage)
        assert row.attempts == 1 and row.delivered_at is None
        assert claim_due(storage.engine) == []
        assert drain_outbox(storage, now=row.next_attempt_at + timedelta(seconds=1)).sent == [1]
        assert rx.requests == [webhook_id_for(1)] and len(rx.processed) == 1
    finally:
        rx.close()


def test_two_senders_never_claim_the_same_row(storage, secret):
    queue_change(storage, "http://127.0.0.1:9/x")
    claims: list[int] = []
    barrier = threading.Barrier(4)

    def claim():
        barrier.wait()
        claims.extend(m.id for m in claim_due(storage.engine))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert claims == [1]


def test_the_app_lifespan_runs_the_sender(storage, secret, make_settings):
    from fastapi.testclient import TestClient

    from service.app import create_app

    rx = Receiver(secret)
    try:
        app = create_app(make_settings(outbox_enabled=True, outbox_poll_seconds=0.1, callback_urls={"p": rx.url}))
        with TestClient(app):
            with app.state.services.storage.session() as s:
                q.store_result(s, publisher="p", item_id="a1", result=result("publish"), source="webhook")
                record_decision_change(s, "p", "a1", result("block"), "rescan")
            deadline = time.monotonic() + 10
            while not rx.processed and time.monotonic() < deadline:
                time.sleep(0.05)
        assert len(rx.processed) == 1 and rx.processed[webhook_id_for(1)]["data"]["source"] == "rescan"
    finally:
        rx.close()
