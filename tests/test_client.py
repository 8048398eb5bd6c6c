"""modlabel.client: the sync client against a live server, the async one over ASGI, and sign_webhook.

``live_server`` (also used by test_observability and test_policy_cli) runs
``modlabel serve`` in a subprocess on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from modlabel import (ApiError, AsyncClient, AuthError, Client, ItemRecord, Label, ModerationResult, NotFound,
                      TransportError, sign_webhook)
from service.app import create_app
from service.config import Settings

REPO = Path(__file__).resolve().parents[1]
ITEM = {"id": "client-1", "publisher": "example-news", "title": "Militants release video",
        "body": "A new video released by the Islamic State purportedly shows bodies lying in the street.",
        "media": [{"id": "m1", "type": "video", "caption": "Still from the video", "credit": "Amaq News Agency"}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: its own data dir, no classifier, no callback sender."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MODLABEL_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({"MODLABEL_DATA_DIR": str(data_dir), "MODLABEL_CLASSIFIER_ENABLED": "false",
                "MODLABEL_OUTBOX_ENABLED": "false", "MODLABEL_BOOTSTRAP_ADMIN": "false", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def create_key(storage=None, *, data_dir: Path | None = None, role: str = "admin", publisher: str | None = None) -> str:
    """A new API key stored in ``storage`` (or in the embedded database of ``data_dir``, e.g. a live server's)."""
    from service.auth import create_key as create
    from service.storage import Storage

    own = storage is None
    if own:
        storage = Storage(Settings(data_dir=data_dir, classifier_enabled=False, bootstrap_admin=False))
    try:
        with storage.session() as s:
            return create(s, role=role, publisher=publisher, actor="test")[1]
    finally:
        if own:
            storage.dispose()


@contextlib.contextmanager
def live_server(env: dict[str, str], *, workers: int = 1, log_path: Path | None = None, timeout: float = 60.0,
                uvicorn_options: dict | None = None):
    """``modlabel serve`` on 127.0.0.1:<free port>; yields (base_url, process); SIGTERM at the end.

    ``uvicorn_options`` runs ``uvicorn.run("service.main:app", ...)`` with them instead
    (options ``modlabel serve`` does not expose).
    """
    port = free_port()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    if uvicorn_options is None:
        argv = ["-c", "from service.cli import app; app()", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers)]
    else:
        options = {"host": "127.0.0.1", "port": port, "workers": workers, "access_log": False, **uvicorn_options}
        argv = ["-c", f"import uvicorn; uvicorn.run('service.main:app', **{options!r})"]
    proc = subprocess.Popen([sys.executable, *argv],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}" + (f": {log_path.read_text()[-2000:]}" if log_path else ""))
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log_path:
            log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("client-server")
    key = create_key(data_dir=data)
    with live_server(server_env(data)) as (base, _):
        yield base, data, key


@pytest.fixture
def client(server):
    with Client(server[0], api_key=server[2]) as c:
        yield c


def test_health_and_ready(client):
    assert client.health().ok and client.health().status == "ok"
    ready = client.ready()
    assert ready.ok, ready.message


def test_moderate_returns_typed_result(client):
    result = client.moderate(ITEM)
    assert isinstance(result, ModerationResult)
    assert result.item_id == "client-1" and len(result.content_hash) == 64
    assert result.decision == "publish_with_disclaimers"
    extremist = result.label("extremist_source")
    assert isinstance(extremist, Label) and extremist.actors == ("Islamic State",)
    assert all(lab.evidence and 0 <= lab.confidence <= 1 for lab in result.labels)
    assert {d.id for d in result.disclaimers} >= {"extremist_source_notice"}
    assert result.policy_version and result.model_version and result.request_id
    assert result.raw["decision"] == result.decision


def test_get_item_returns_the_stored_decision_and_history(client):
    moderated = client.moderate({**ITEM, "id": "client-2"})
    record = client.get_item("example-news", "client-2")
    assert isinstance(record, ItemRecord)
    assert record.decision == moderated.decision and record.content_hash == moderated.content_hash
    assert record.current is not None and record.current.source == "api"
    assert record.history and record.history[0].decision == moderated.decision


def test_errors_carry_status_code_and_field(client):
    with pytest.raises(NotFound) as missing:
        client.get_item("example-news", "no such item/with a slash")
    assert missing.value.status == 404 and missing.value.request_id
    with pytest.raises(ApiError) as invalid:
        client.moderate({"type": "podcast", "body": "x"})
    assert invalid.value.status == 422 and invalid.value.code == "validation_error" and invalid.value.field == "type"


def test_a_missing_or_wrong_key_is_an_auth_error(server):
    for key in (None, "mlk_nope_wrong"):
        with Client(server[0], api_key=key) as c:
            with pytest.raises(AuthError) as denied:
                c.moderate(ITEM)
            assert denied.value.status == 401 and denied.value.code == "unauthorized"


def test_a_publisher_key_stores_for_its_publisher(server):
    key = create_key(data_dir=server[1], role="cms", publisher="example-news")
    with Client(server[0], api_key=key) as c:
        result = c.moderate({**ITEM, "id": "client-cms"})
        assert c.get_item("example-news", "client-cms").decision == result.decision
        with pytest.raises(AuthError) as other:
            c.moderate({**ITEM, "publisher": "default"})
        assert other.value.status == 403


def test_pre_publish_is_signed_with_sign_webhook(client, server):
    from service.db.secrets import add_secret
    from service.storage import Storage

    storage = Storage(Settings(data_dir=server[1], classifier_enabled=False, bootstrap_admin=False))
    with storage.session() as s:
        secret = add_secret(s, publisher="example-news").secret
    storage.dispose()
    answer = client.pre_publish({**ITEM, "id": "client-3"}, secret=secret, publisher="example-news")
    assert answer.allow and answer.decision == "publish_with_disclaimers"
    assert "modlabel-disclaimer" in answer.body_html and answer.labels
    with pytest.raises(ApiError) as bad:
        client.pre_publish({**ITEM, "id": "client-4"}, secret="whsec_" + "A" * 32, publisher="example-news")
    assert bad.value.status == 401


def test_sign_webhook_verifies_with_standardwebhooks():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"id": "x", "body": "caf\xc3\xa9"}'
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    headers = sign_webhook(secret, "msg_1", at, body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-timestamp"] == str(int(at.timestamp())) and headers["webhook-signature"].startswith("v1,")
    assert sign_webhook(secret, "msg_1", int(at.timestamp()), body.decode()) == headers
    now = sign_webhook(secret, "msg_2", time.time(), body)
    Webhook(secret).verify(body, now)  # raises on a bad signature


def test_async_client_over_asgi_transport(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, classifier_enabled=False, bootstrap_admin=False, outbox_enabled=False))
    key = create_key(app.state.services.storage)

    async def run():
        async with AsyncClient("http://modlabel.test", api_key=key, transport=httpx.ASGITransport(app=app)) as c:
            assert (await c.health()).ok
            result = await c.moderate({**ITEM, "id": "async-1"})
            record = await c.get_item("example-news", "async-1")
            with pytest.raises(NotFound):
                await c.get_item("example-news", "nope")
            return result, record

    result, record = asyncio.run(run())
    assert result.decision == record.decision == "publish_with_disclaimers"
    assert record.history[0].labels == result.labels


def test_transport_error_when_nothing_listens():
    with Client(f"http://127.0.0.1:{free_port()}", timeout=2) as c:
        with pytest.raises(TransportError):
            c.health()


def test_api_key_travels_as_bearer():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(200, json={"status": "ok"})

    with Client("http://x", api_key="k_123", transport=httpx.MockTransport(handler)) as c:
        assert c.health().ok
    assert seen["auth"] == "Bearer k_123"
