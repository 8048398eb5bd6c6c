"""API keys: bearer authentication on every /v1 route, roles, publisher scope, the first admin key, the CLI."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from service.app import create_app
from service.auth import KeyStore, create_key, hash_key, parse_key_id, revoke_key
from service.db import ApiKey, AuditEvent

ITEM = {"id": "a-1", "publisher": "example-news", "title": "Quiet day", "body": "The market reopened on Monday."}


@pytest.fixture
def app(storage, make_settings):
    return create_app(make_settings(key_cache_seconds=0))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _example_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0).endswith("_id}") and "item" not in m.group(0) else "x", path)


def test_every_v1_route_but_the_webhook_needs_a_key(client, app):
    """401 JSON without a key on every /v1 operation (the webhook is signed instead; health and metrics are open)."""
    checked = 0
    for path, ops in app.openapi()["paths"].items():
        for method in ops:
            if not path.startswith("/v1/") or path == "/v1/webhooks/pre-publish":
                continue
            content = ops[method].get("requestBody", {}).get("content", {})
            body = {"files": {"file": ("x.png", b"x")}} if "multipart/form-data" in content else {"json": {}}
            r = client.request(method.upper(), _example_path(path), **body)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            err = r.json()["error"]
            assert err["code"] == "unauthorized" and err["field"] == "authorization" and err["message"]
            assert r.headers["www-authenticate"].startswith("Bearer")
            checked += 1
    assert checked >= 10
    for open_path in ("/healthz", "/metrics"):
        assert client.get(open_path).status_code == 200


@pytest.mark.parametrize("header", ["Bearer mlk_nope_" + "x" * 40, "Bearer not-a-key", "Basic dXNlcjpwYXNz", "Bearer "])
def test_unknown_or_malformed_keys_are_401(client, header):
    r = client.post("/v1/moderate", json=ITEM, headers={"Authorization": header})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_a_wrong_secret_for_a_real_id_is_401(client, auth):
    key = auth("cms", "example-news")["Authorization"].removeprefix("Bearer ")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    r = client.post("/v1/moderate", json=ITEM, headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_roles_and_publisher_scope_on_moderate_and_items(client, auth):
    cms = auth("cms", "example-news")
    assert client.post("/v1/moderate", json=ITEM, headers=cms).status_code == 200
    r = client.post("/v1/moderate", json={**ITEM, "publisher": "other-news"}, headers=cms)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_publisher" and r.json()["error"]["field"] == "publisher"
    assert client.get("/v1/items/example-news/a-1", headers=cms).status_code == 200
    assert client.get("/v1/items/example-news/a-1", headers=auth("moderator", "example-news")).status_code == 200
    assert client.get("/v1/items/example-news/a-1", headers=auth()).status_code == 200
    r = client.get("/v1/items/example-news/a-1", headers=auth("moderator", "other-news"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_publisher"
    r = client.get("/v1/review-queue", headers=cms)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_role"


def test_a_publisher_key_moderates_for_its_publisher_when_the_item_names_none(client, auth):
    item = {k: v for k, v in ITEM.items() if k != "publisher"}
    assert client.post("/v1/moderate", json=item, headers=auth("cms", "example-news")).status_code == 200
    assert client.get("/v1/items/example-news/a-1", headers=auth()).status_code == 200
    assert client.get("/v1/items/default/a-1", headers=auth()).status_code == 404


def test_revoked_keys_are_refused(client, storage, auth):
    headers = auth("cms", "example-news")
    assert client.post("/v1/moderate", json=ITEM, headers=headers).status_code == 200
    key_id = parse_key_id(headers["Authorization"].removeprefix("Bearer "))
    with storage.session() as s:
        assert revoke_key(s, key_id=key_id, actor="test")
        assert not revoke_key(s, key_id=key_id, actor="test")
    r = client.post("/v1/moderate", json=ITEM, headers=headers)
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_keys_are_stored_hashed_and_key_changes_are_audited(storage):
    with storage.session() as s:
        row, key = create_key(s, role="moderator", publisher="example-news", actor="cli")
        key_id = row.id
    assert key.startswith(f"mlk_{key_id}_") and len(key) > 50
    with storage.session() as s:
        stored = s.get(ApiKey, key_id)
        assert stored.key_hash == hash_key(key) and key not in stored.key_hash
        revoke_key(s, key_id=key_id, actor="cli")
    with storage.session() as s:
        events = [(e.action, e.actor_key_id) for e in s.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]
        assert events == [("key.create", "cli"), ("key.revoke", "cli")]
        assert all(key not in str(e.after) + str(e.before) for e in s.exec(select(AuditEvent)).all())
    with pytest.raises(ValueError):
        with storage.session() as s:
            create_key(s, role="cms")  # only admin keys may be global
    with pytest.raises(ValueError):
        with storage.session() as s:
            create_key(s, role="root", publisher="p")


def test_the_key_cache_answers_without_the_database(storage):
    with storage.session() as s:
        _, key = create_key(s, role="admin")
    keys = KeyStore(storage, ttl_seconds=60)
    assert not keys.is_fresh(key)
    assert keys.authenticate(key).role == "admin"
    assert keys.is_fresh(key)


def test_first_start_creates_and_prints_one_admin_key(storage, make_settings, capfd):
    app = create_app(make_settings(bootstrap_admin=True))
    with TestClient(app):
        pass
    err = capfd.readouterr().err
    keys = [line for line in err.splitlines() if line.startswith("mlk_bootstrap_")]
    assert len(keys) == 1 and "admin key was created" in err and "shown only this once" in err
    with TestClient(create_app(make_settings(bootstrap_admin=True))) as c:  # a second start prints nothing
        assert c.get("/v1/audit", headers={"Authorization": f"Bearer {keys[0]}"}).status_code == 200
    assert "mlk_" not in capfd.readouterr().err


def test_no_bootstrap_key_when_disabled_or_keys_exist(storage, make_settings, capfd, auth):
    with TestClient(create_app(make_settings(bootstrap_admin=False))):
        pass
    auth("cms", "example-news")
    with TestClient(create_app(make_settings(bootstrap_admin=True))):
        pass
    assert "mlk_" not in capfd.readouterr().err


def test_cli_keys_create_list_revoke(tmp_path):
    env = {"MODLABEL_DATA_DIR": str(tmp_path / "cli"), "PATH": "/usr/bin:/bin"}

    def run(*args, check=True):
        return subprocess.run([sys.executable, "-c", "from service.cli import app; app()", "keys", *args],
                              capture_output=True, text=True, env=env, check=check)

    out = run("create", "--role", "moderator", "--publisher", "example-news")
    last = out.stdout.rstrip("\n").split("\n")[-1]
    assert re.fullmatch(r"mlk_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}", last)
    key_id = parse_key_id(last)
    listed = run("list").stdout
    assert key_id in listed and "moderator" in listed and last not in listed
    assert run("create", "--role", "cms", check=False).returncode != 0  # a cms key needs a publisher
    assert run("create", "--role", "superuser", "--publisher", "p", check=False).returncode != 0
    assert run("revoke", key_id).returncode == 0
    assert run("revoke", key_id, check=False).returncode == 1
    assert key_id not in run("list").stdout and key_id in run("list", "--all").stdout
