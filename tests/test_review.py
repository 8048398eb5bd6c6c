"""The review queue (oldest first, filters, pages), claims and their expiry, the audit trail, statements of reasons."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from service.app import create_app

PUB = "example-news"
EXTREME = "A new video released by the Islamic State purportedly shows the beheading of a hostage."


def held_item(n: int, publisher: str = PUB, body: str = EXTREME) -> dict:
    return {"id": f"q-{n}", "publisher": publisher, "title": f"Item {n}", "body": body}


@pytest.fixture
def app(storage, make_settings):
    return create_app(make_settings(review_claim_seconds=1, key_cache_seconds=60))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def seed(client, auth, items):
    for item in items:
        r = client.post("/v1/moderate", json=item, headers=auth("cms", item["publisher"]))
        assert r.status_code == 200, r.text


def test_queue_is_oldest_first_filtered_and_paged(client, auth):
    seed(client, auth, [held_item(1), held_item(2), held_item(3, "other-news"), held_item(4),
                        {"id": "clean", "publisher": PUB, "body": "The market reopened on Monday."}])
    admin = auth()
    page = client.get("/v1/review-queue", headers=admin).json()
    assert [e["item_id"] for e in page["items"]] == ["q-1", "q-2", "q-3", "q-4"] and page["next_cursor"] is None
    first = page["items"][0]
    assert first["title"] == "Item 1" and first["claim"] is None and first["held_since"] and first["version"]
    assert {lab["name"] for lab in first["labels"]} >= {"extremist_source", "graphic_violence"}
    mod = auth("moderator", PUB)
    ids, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/review-queue", params=params, headers=mod).json()
        ids += [e["item_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids == ["q-1", "q-2", "q-4"]  # a moderator sees its own publisher only
    r = client.get("/v1/review-queue", params={"publisher": "other-news"}, headers=mod)
    assert r.status_code == 403
    assert [e["item_id"] for e in client.get("/v1/review-queue", params={"publisher": "other-news"}, headers=admin)
            .json()["items"]] == ["q-3"]
    assert client.get("/v1/review-queue", params={"label": "unverified"}, headers=mod).json()["items"]
    assert client.get("/v1/review-queue", params={"label": "nothing"}, headers=mod).json()["items"] == []
    r = client.get("/v1/review-queue", params={"cursor": "garbage!"}, headers=mod)
    assert r.status_code == 422 and r.json()["error"]["field"] == "cursor"


def test_an_item_leaves_the_queue_when_a_moderator_decides(client, auth):
    seed(client, auth, [held_item(1), held_item(2)])
    mod = auth("moderator", PUB)
    r = client.post(f"/v1/items/{PUB}/q-1/override", json={"decision": "block", "reason": "error"}, headers=mod)
    assert r.status_code == 201
    assert [e["item_id"] for e in client.get("/v1/review-queue", headers=mod).json()["items"]] == ["q-2"]


def test_claims_keep_two_moderators_apart_and_expire(client, auth):
    seed(client, auth, [held_item(1)])
    alice, bob = auth("moderator", PUB), auth("moderator", PUB, fresh=True)
    url = f"/v1/review-queue/{PUB}/q-1"
    r = client.post(f"{url}/claim", headers=alice)
    assert r.status_code == 200 and r.json()["expires_at"]
    claimed_by = r.json()["claimed_by"]
    assert client.post(f"{url}/claim", headers=alice).status_code == 200  # renewing is fine
    r = client.post(f"{url}/claim", headers=bob)
    assert r.status_code == 409 and r.json()["error"]["code"] == "claimed" and claimed_by in r.json()["error"]["message"]
    r = client.post(f"/v1/items/{PUB}/q-1/override", json={"decision": "block", "reason": "error"}, headers=bob)
    assert r.status_code == 409 and r.json()["error"]["code"] == "claimed"
    assert client.post(f"{url}/release", headers=bob).status_code == 409
    assert client.get("/v1/review-queue", headers=bob).json()["items"][0]["claim"]["claimed_by"] == claimed_by
    assert client.get(f"/v1/items/{PUB}/q-1", headers=bob).json()["claim"]["claimed_by"] == claimed_by
    time.sleep(1.2)  # review_claim_seconds=1
    assert client.get("/v1/review-queue", headers=bob).json()["items"][0]["claim"] is None
    r = client.post(f"{url}/claim", headers=bob)
    assert r.status_code == 200 and r.json()["claimed_by"] != claimed_by
    assert client.post(f"{url}/release", headers=bob).json() == {"released": True}
    assert client.post(f"{url}/release", headers=bob).json() == {"released": False}
    assert client.post(f"/v1/review-queue/{PUB}/missing/claim", headers=bob).status_code == 404
    assert client.post(f"/v1/review-queue/{PUB}/q-1/claim", headers=auth("cms", PUB)).status_code == 403


def test_a_claim_is_released_when_its_moderator_decides(client, auth):
    seed(client, auth, [held_item(1)])
    alice = auth("moderator", PUB)
    client.post(f"/v1/review-queue/{PUB}/q-1/claim", headers=alice)
    r = client.post(f"/v1/items/{PUB}/q-1/override", json={"decision": "block", "reason": "error"}, headers=alice)
    assert r.status_code == 201 and r.json()["item"]["claim"] is None


def test_audit_records_everything_with_filters_and_pages(client, auth):
    admin, mod = auth(), auth("moderator", PUB)
    seed(client, auth, [held_item(1), held_item(2), held_item(3, "other-news")])
    client.post(f"/v1/review-queue/{PUB}/q-1/claim", headers=mod)
    client.post(f"/v1/items/{PUB}/q-1/override", json={"decision": "block", "reason": "error", "note": "dup"}, headers=mod)
    client.delete(f"/v1/items/{PUB}/q-1/override", headers=mod)
    events = client.get("/v1/audit", headers=admin).json()["events"]
    actions = [e["action"] for e in events]
    assert actions[:4] == ["override.withdraw", "result", "override.create", "result"]
    assert {"review.claim", "key.create"} <= set(actions) and actions.count("result") == 5
    created = next(e for e in events if e["action"] == "override.create")
    assert created["item_id"] == "q-1" and created["after"]["decision"] == "block" and created["after"]["note"] == "dup"
    assert created["before"]["decision"] == "hold_for_review" and created["actor"] == created["after"]["created_by"]
    stored = next(e for e in events if e["action"] == "result" and e["item_id"] == "q-2")
    assert stored["after"]["source"] == "api" and stored["after"]["current"] is True and stored["actor"]

    def all_pages(params, headers):
        out, cursor = [], None
        while True:
            page = client.get("/v1/audit", params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers).json()
            out += page["events"]
            cursor = page["next_cursor"]
            if not cursor:
                return out

    paged = all_pages({"limit": 2}, admin)
    assert [e["id"] for e in paged] == [e["id"] for e in events] and len(paged) == len(events)
    assert [e["action"] for e in all_pages({"action": "override.*", "limit": 1}, admin)] == ["override.withdraw", "override.create"]
    assert {e["item_id"] for e in all_pages({"item_id": "q-1"}, admin)} == {"q-1"}
    scoped = all_pages({}, mod)
    assert scoped and all(e["publisher"] == PUB for e in scoped)
    assert not any(e["item_id"] == "q-3" for e in scoped)
    assert client.get("/v1/audit", params={"publisher": "other-news"}, headers=mod).status_code == 403
    assert client.get("/v1/audit", headers=auth("cms", PUB)).status_code == 403
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert client.get("/v1/audit", params={"since": future}, headers=admin).json()["events"] == []
    assert len(client.get("/v1/audit", params={"until": future}, headers=admin).json()["events"]) == len(events)
    assert client.get("/v1/audit", params={"since": "yesterday"}, headers=admin).status_code == 422
    assert client.get("/v1/audit", params={"cursor": "x1"}, headers=admin).status_code == 422


def test_statement_of_reasons_follows_the_dsa_transparency_database_fields(client, auth):
    seed(client, auth, [{**held_item(1), "language": "en",
                         "media": [{"id": "m1", "type": "video", "caption": "Still", "credit": "Amaq News Agency"}]},
                        {"id": "clean", "publisher": PUB, "body": "The market reopened on Monday."}])
    cms = auth("cms", PUB)
    sor = client.get(f"/v1/items/{PUB}/q-1/statement-of-reasons", headers=cms).json()
    st = sor["statement"]
    assert sor["statement_required"] is True and sor["decision"] == "hold_for_review"
    assert st["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert st["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT" and st["incompatible_content_ground"]
    assert st["category"] == "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY"
    assert "STATEMENT_CATEGORY_VIOLENCE" in st["category_addition"] and "KEYWORD_TERRORIST_CONTENT" in st["category_specification"]
    assert st["content_type"] == ["CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO"] and st["content_language"] == "EN"
    assert st["automated_detection"] == "Yes" and st["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert st["source_type"] == "SOURCE_VOLUNTARY" and st["decision_facts"] and len(st["decision_facts"]) <= 5000
    today = datetime.now(timezone.utc).date().isoformat()
    assert st["application_date"] == today and st["content_date"] == today
    assert st["puid"].startswith("example-news-q-1-r") and all(c.isalnum() or c in "-_" for c in st["puid"])
    mod = auth("moderator", PUB)
    client.post(f"/v1/items/{PUB}/q-1/override", json={"decision": "publish_with_disclaimers", "reason": "newsworthy"},
                headers=mod)
    st = client.get(f"/v1/items/{PUB}/q-1/statement-of-reasons", headers=cms).json()["statement"]
    assert st["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_LABELLED"]
    assert st["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED" and "newsworthy" in st["decision_facts"]
    clean = client.get(f"/v1/items/{PUB}/clean/statement-of-reasons", headers=cms).json()
    assert clean["decision"] == "publish" and clean["statement_required"] is False and clean["statement"] is None
    assert client.get(f"/v1/items/{PUB}/none/statement-of-reasons", headers=cms).status_code == 404
    assert client.get(f"/v1/items/{PUB}/q-1/statement-of-reasons", headers=auth("cms", "other-news")).status_code == 403
