"""Moderator overrides: who may, what they change (GET item, /v1/moderate, the webhook), content changes,
four eyes for lifting extremist_source, conflicts, withdrawal, expiry and the callbacks they queue."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from standardwebhooks import Webhook

from service.app import create_app
from service.db import OutboxMessage
from service.db.secrets import add_secret
from service.lifecycle import sweep_overrides
from service.overrides import expire_due

PUB = "example-news"
HELD = {"id": "h-1", "publisher": PUB, "title": "Militants release video",
        "body": "A new video released by the Islamic State purportedly shows the beheading of a hostage.",
        "media": [{"id": "m1", "type": "video", "caption": "Still from the video", "credit": "Amaq News Agency"}]}
GRAPHIC = {"id": "g-1", "publisher": PUB, "title": "Aftermath",
           "body": "Photos show pools of blood on the road after the airstrike."}


@pytest.fixture
def app(storage, make_settings):
    return create_app(make_settings(callback_urls={PUB: "http://127.0.0.1:9/hook"}, key_cache_seconds=60))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def cms(auth):
    return auth("cms", PUB)


@pytest.fixture
def mod(auth):
    return auth("moderator", PUB)


@pytest.fixture
def mod2(auth):
    return auth("moderator", PUB, fresh=True)


def moderate(client, cms, item=HELD):
    r = client.post("/v1/moderate", json=item, headers=cms)
    assert r.status_code == 200, r.text
    return r.json()


def override(client, headers, body, item_id="h-1"):
    return client.post(f"/v1/items/{PUB}/{item_id}/override", json=body, headers=headers)


def held(client, cms) -> dict:
    first = moderate(client, cms)
    names = {lab["name"] for lab in first["labels"]}
    assert first["decision"] == "hold_for_review" and {"extremist_source", "graphic_violence"} <= names, first
    return first


def test_only_moderators_of_the_publisher_may_override(client, cms, auth):
    held(client, cms)
    body = {"decision": "publish_with_disclaimers", "reason": "newsworthy"}
    assert override(client, {}, body).status_code == 401
    r = override(client, cms, body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_role"
    r = override(client, auth("moderator", "other-news"), body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_publisher"
    r = override(client, auth("moderator", PUB), {**body, "reason": "because"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = override(client, auth("moderator", PUB), {"reason": "newsworthy"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "decision"
    r = override(client, auth("moderator", PUB), {**body, "labels_set": [{"name": "graphic_violence"}],
                                                  "labels_remove": ["graphic_violence"]})
    assert r.status_code == 422
    assert override(client, auth(), body).status_code == 201  # a global admin may


def test_override_wins_in_get_item_moderate_and_webhook(client, cms, mod, storage):
    with storage.session() as s:
        secret = add_secret(s, publisher=PUB).secret
    body = json.dumps(HELD)

    def webhook(msg_id):
        at = datetime.now(timezone.utc)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
                   "webhook-signature": Webhook(secret).sign(msg_id, at, body), "content-type": "application/json"}
        r = client.post("/v1/webhooks/pre-publish", content=body, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    first = webhook("w-1")
    assert first["decision"] == "hold_for_review" and first["allow"] is False and "override" not in first
    view = client.get(f"/v1/items/{PUB}/h-1", headers=mod).json()
    r = override(client, mod, {"decision": "publish_with_disclaimers", "reason": "newsworthy", "note": "<b>ok</b>",
                               "labels_set": [{"name": "graphic_violence", "severity": "graphic"}],
                               "expected_version": view["version"], "expected_content_hash": view["content_hash"]})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["override"]["status"] == "active" and out["override"]["created_by"] and not out["override"]["requires_approval"]
    assert out["item"]["decision"] == "publish_with_disclaimers" and out["item"]["current"]["source"] == "override"
    graphic = next(lab for lab in out["item"]["current"]["labels"] if lab["name"] == "graphic_violence")
    assert graphic["severity"] == "graphic" and "override" in graphic["stages"] and graphic["evidence"]

    view = client.get(f"/v1/items/{PUB}/h-1", headers=cms).json()
    assert view["decision"] == "publish_with_disclaimers" and view["overrides"][0]["id"] == out["override"]["id"]

    again = moderate(client, cms)  # the same item id and content
    assert again["decision"] == "publish_with_disclaimers" and again["content_hash"] == first["content_hash"]
    assert again["override"]["applied"] is True and again["override"]["id"] == out["override"]["id"]
    assert next(lab for lab in again["labels"] if lab["name"] == "graphic_violence")["severity"] == "graphic"

    answer = webhook("w-2")
    assert answer["decision"] == "publish_with_disclaimers" and answer["allow"] is True
    assert answer["override"]["applied"] is True
    tops = [d["html"] for d in answer["disclaimers"] if d["placement"] == "top"]
    assert tops and answer["body_html"].startswith(tops[0])
    assert {d["id"] for d in answer["disclaimers"]} >= {"graphic_warning", "extremist_source_notice"}
    # the automated results were kept in the history, under the override
    view = client.get(f"/v1/items/{PUB}/h-1", headers=cms).json()
    assert view["current"]["source"] == "override" and [r["source"] for r in view["history"]][:2] == ["webhook", "api"]


def test_changed_content_goes_back_to_review_with_the_old_override_as_context(client, cms, mod):
    held(client, cms)
    done = override(client, mod, {"decision": "publish_with_disclaimers", "reason": "newsworthy"}).json()
    edited = {**HELD, "body": "The market reopened on Monday after the holiday.", "media": []}
    answer = moderate(client, cms, edited)
    assert answer["decision"] == "hold_for_review"
    assert answer["override"] == {**answer["override"], "id": done["override"]["id"], "status": "stale", "applied": False}
    assert moderate(client, cms, edited)["decision"] == "hold_for_review"  # still, until a moderator decides
    view = client.get(f"/v1/items/{PUB}/h-1", headers=mod).json()
    assert view["decision"] == "hold_for_review" and view["overrides"][0]["status"] == "stale"
    queue = client.get("/v1/review-queue", headers=mod).json()["items"]
    assert queue[0]["item_id"] == "h-1" and queue[0]["previous_override"]["id"] == done["override"]["id"]
    r = override(client, mod, {"decision": "publish", "reason": "policy_exception", "expected_content_hash": view["content_hash"]})
    assert r.status_code == 201 and r.json()["item"]["decision"] == "publish"
    assert moderate(client, cms, edited)["decision"] == "publish"


def test_lifting_extremist_source_needs_a_second_moderator(client, cms, mod, mod2, app, storage):
    held(client, cms)
    r = override(client, mod, {"labels_remove": ["extremist_source"], "reason": "misattributed"})
    assert r.status_code == 201, r.text
    pending = r.json()["override"]
    assert pending["status"] == "pending" and pending["requires_approval"] is True
    assert r.json()["item"]["decision"] == "hold_for_review"  # nothing applied yet
    assert moderate(client, cms)["override"]["status"] == "pending"
    url = f"/v1/items/{PUB}/h-1/override/{pending['id']}/approve"
    r = client.post(url, headers=mod)
    assert r.status_code == 403 and r.json()["error"]["code"] == "four_eyes_required"
    assert client.post(url, headers=cms).status_code == 403
    r = client.post(url, headers=mod2)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["override"]["status"] == "active" and out["override"]["approved_by"] != out["override"]["created_by"]
    assert "extremist_source" not in {lab["name"] for lab in out["item"]["current"]["labels"]}
    assert out["item"]["decision"] == "publish_with_disclaimers"
    assert client.post(url, headers=mod2).json()["error"]["code"] == "not_pending"
    with storage.session() as s:  # the decision change went to the CMS through the outbox
        msgs = s.exec(select(OutboxMessage)).all()
        data = [m.payload["data"] for m in msgs]
        assert [(d["previous_decision"], d["decision"], d["source"]) for d in data] == \
            [("hold_for_review", "publish_with_disclaimers", "override")]
        assert data[0]["actor"] == out["override"]["approved_by"]


def test_a_changed_item_is_a_409(client, cms, mod):
    first = held(client, cms)
    view = client.get(f"/v1/items/{PUB}/h-1", headers=mod).json()
    moderate(client, cms, {**HELD, "title": "Militants release a new video"})  # the CMS edited it meanwhile
    r = override(client, mod, {"decision": "block", "reason": "error", "expected_version": view["version"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "item_changed" and r.json()["error"]["field"] == "expected_version"
    r = override(client, mod, {"decision": "block", "reason": "error", "expected_content_hash": first["content_hash"]})
    assert r.status_code == 409 and r.json()["error"]["field"] == "expected_content_hash"
    r = override(client, mod, {"decision": "block", "reason": "error"}, item_id="missing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "item_not_found"


def test_withdrawing_brings_the_automated_result_back(client, cms, mod, storage):
    held(client, cms)
    override(client, mod, {"decision": "publish_with_disclaimers", "reason": "newsworthy"})
    r = client.delete(f"/v1/items/{PUB}/h-1/override", headers=mod)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["override"]["status"] == "withdrawn" and out["override"]["withdrawn_by"]
    assert out["item"]["decision"] == "hold_for_review" and out["item"]["current"]["source"] == "rescan"
    assert out["item"]["current"]["reason"] == "override_withdrawn"
    r = client.delete(f"/v1/items/{PUB}/h-1/override", headers=mod)
    assert r.status_code == 404 and r.json()["error"]["code"] == "override_not_found"
    r = client.delete(f"/v1/items/{PUB}/h-1/override/{out['override']['id']}", headers=mod)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_withdrawable"
    with storage.session() as s:
        assert len(s.exec(select(OutboxMessage)).all()) == 2  # hold -> publish, publish -> hold


def test_an_expired_override_stops_applying(client, cms, mod, app):
    held(client, cms)
    soon = (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()
    r = override(client, mod, {"decision": "publish_with_disclaimers", "reason": "newsworthy", "expires_at": soon})
    assert r.status_code == 201 and r.json()["override"]["expires_at"]
    assert sweep_overrides(app.state.services) == 0  # not yet
    services = app.state.services
    with services.storage.session() as s:
        later = datetime.now(timezone.utc) + timedelta(minutes=6)
        assert expire_due(s, now=later, moderator=services.moderator, ps=services.moderator.policy_set) == 1
    view = client.get(f"/v1/items/{PUB}/h-1", headers=mod).json()
    assert view["decision"] == "hold_for_review" and view["overrides"][0]["status"] == "expired"
    assert view["current"]["reason"] == "override_expired"
    assert "override" not in moderate(client, cms)  # expired: neither applied nor shown as context
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    r = override(client, mod, {"decision": "publish", "reason": "newsworthy", "expires_at": past})
    assert r.status_code == 422 and r.json()["error"]["field"] == "expires_at"


def test_labels_set_adds_and_changes_labels_and_redoes_disclaimers(client, cms, mod):
    moderate(client, cms, GRAPHIC)
    r = override(client, mod, {"labels_set": [{"name": "extremist_source", "actors": ["al-Shabaab"]},
                                              {"name": "graphic_violence", "severity": "extreme"}],
                               "reason": "policy_exception"}, item_id="g-1")
    assert r.status_code == 201, r.text
    current = r.json()["item"]["current"]
    labels = {lab["name"]: lab for lab in current["labels"]}
    assert labels["extremist_source"]["actors"] == ["al-Shabaab"] and labels["extremist_source"]["stages"] == ["override"]
    assert current["decision"] == "hold_for_review"  # extremist_source with extreme violence: the policy decides
    notice = next(d for d in current["disclaimers"] if d["id"] == "extremist_source_notice")
    assert "al-Shabaab" in notice["text"]
    r = override(client, mod, {"labels_set": [{"name": "unverified", "severity": "graphic"}], "reason": "error"}, item_id="g-1")
    assert r.status_code == 422 and r.json()["error"]["field"] == "labels_set.0.severity"
