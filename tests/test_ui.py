"""The moderator page over HTTP (no browser): sign-in, CSRF, escaping, actions (tests/test_ui_browser.py drives Chromium)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth import parse_key_id, revoke_key

PUB = "example-news"
NASTY = {"id": "x-1", "publisher": PUB,
         "title": "<script>window.__pwned=1</script> Militants release video",
         "body": "A new video released by the Islamic State purportedly shows the beheading of a hostage. <img src=x onerror=alert(1)>",
         "media": [{"id": "m1", "type": "video", "caption": "<b>Still</b> from the video", "credit": "Amaq News Agency"}]}


@pytest.fixture
def app(storage, make_settings):
    return create_app(make_settings(key_cache_seconds=0))


@pytest.fixture
def browser(app):
    with TestClient(app, follow_redirects=True) as c:
        yield c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(browser, headers) -> str:
    page = browser.get("/ui/login")
    r = browser.post("/ui/login", data={"csrf": csrf_of(page.text), "key": headers["Authorization"].removeprefix("Bearer ")})
    assert r.status_code == 200
    return r.text


def seed(browser, auth, item=NASTY):
    r = browser.post("/v1/moderate", json=item, headers=auth("cms", PUB))
    assert r.status_code == 200 and r.json()["decision"] == "hold_for_review", r.text


def test_signed_out_pages_go_to_the_sign_in_form(browser):
    r = browser.get("/ui/queue")
    assert r.url.path == "/ui/login" and 'type="password"' in r.text and r.headers["content-security-policy"]
    assert browser.get("/ui").url.path == "/ui/login"


def test_only_moderator_and_admin_keys_sign_in(browser, auth):
    assert "cannot sign in here" in sign_in(browser, auth("cms", PUB))
    assert "Sign-in failed" in sign_in(browser, {"Authorization": "Bearer mlk_nope_" + "x" * 43})
    assert "Review queue" in sign_in(browser, auth("moderator", PUB))


def test_forms_need_the_session_csrf_token(browser, auth):
    seed(browser, auth)
    sign_in(browser, auth("moderator", PUB))
    r = browser.post(f"/ui/items/{PUB}/x-1/action", data={"action": "block", "reason": "error"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = browser.post(f"/ui/items/{PUB}/x-1/action", data={"action": "block", "reason": "error", "csrf": "forged"})
    assert r.status_code == 403
    r = browser.post("/ui/login", data={"key": "whatever"})
    assert r.status_code == 403


def test_article_strings_are_escaped_and_evidence_is_marked(browser, auth):
    seed(browser, auth)
    sign_in(browser, auth("moderator", PUB))
    for page in (browser.get("/ui/queue"), browser.get(f"/ui/items/{PUB}/x-1")):
        assert page.status_code == 200
        assert "<script>window" not in page.text and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page.text
        assert "<img src=x" not in page.text and "<b>Still</b>" not in page.text
    item = browser.get(f"/ui/items/{PUB}/x-1").text
    assert re.search(r'<mark class="lab-extremist_source"[^>]*>video released by the Islamic State</mark>', item)
    assert re.search(r'<mark class="lab-extremist_source"[^>]*>Amaq News Agency</mark>', item)
    assert "extremist_source_notice" in item and 'name="expected_version" value="' in item


def test_actions_from_the_page(browser, auth):
    seed(browser, auth)
    alice, bob = auth("moderator", PUB), auth("moderator", PUB, fresh=True)
    sign_in(browser, alice)
    page = browser.get(f"/ui/items/{PUB}/x-1").text
    page = browser.post(f"/ui/items/{PUB}/x-1/claim", data={"csrf": csrf_of(page)}).text
    assert "You hold this item until" in page
    page = browser.post(f"/ui/items/{PUB}/x-1/action", data={"csrf": csrf_of(page), "action": "approve", "reason": ""}).text
    assert "reason must be one of" in page  # refused, shown on the page
    page = browser.post(f"/ui/items/{PUB}/x-1/action", data={
        "csrf": csrf_of(page), "action": "approve", "remove": ["extremist_source"], "reason": "misattributed",
        "note": "<i>credit was wrong</i>", "expected_version": re.search(r'name="expected_version" value="(\d+)"', page).group(1)}).text
    assert "waits for a second moderator" in page and "&lt;i&gt;credit was wrong&lt;/i&gt;" in page
    view = browser.get(f"/v1/items/{PUB}/x-1", headers=alice).json()
    assert view["decision"] == "hold_for_review" and view["overrides"][0]["status"] == "pending"
    pending_id = view["overrides"][0]["id"]
    assert f"/overrides/{pending_id}/approve" not in page  # not for its own author
    sign_in(browser, bob)
    page = browser.get(f"/ui/items/{PUB}/x-1").text
    page = browser.post(f"/ui/items/{PUB}/x-1/overrides/{pending_id}/approve", data={"csrf": csrf_of(page)}).text
    assert "Approved: the decision is now publish_with_disclaimers" in page
    assert browser.get(f"/v1/items/{PUB}/x-1", headers=bob).json()["decision"] == "publish_with_disclaimers"
    page = browser.post(f"/ui/items/{PUB}/x-1/overrides/{pending_id}/withdraw", data={"csrf": csrf_of(page)}).text
    assert "withdrawn" in page
    assert browser.get(f"/v1/items/{PUB}/x-1", headers=bob).json()["decision"] == "hold_for_review"


def test_a_revoked_key_is_signed_out(browser, auth, storage):
    alice = auth("moderator", PUB)
    sign_in(browser, alice)
    assert browser.get("/ui/queue").url.path == "/ui/queue"
    with storage.session() as s:
        revoke_key(s, key_id=parse_key_id(alice["Authorization"].removeprefix("Bearer ")))
    assert browser.get("/ui/queue").url.path == "/ui/login"


def test_a_moderator_of_another_publisher_cannot_open_the_item(browser, auth):
    seed(browser, auth)
    sign_in(browser, auth("moderator", "other-news"))
    r = browser.get(f"/ui/items/{PUB}/x-1")
    assert r.url.path == "/ui/queue" and "belongs to publisher other-news" in r.text
