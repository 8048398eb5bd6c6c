"""The moderator page in a real browser: Chromium (Playwright, sync API) against a live `modlabel serve`.

Sign in with a moderator key, open the queue, open an item held for review by
keyboard, override it with a reason, then check through the API that the decision
changed and that /v1/audit recorded it. Screenshots go to /tmp/ui_queue.png and
/tmp/ui_item.png. Skips only when no Chromium is installed.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.test_client import create_key, live_server, server_env

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PUB = "example-news"
ITEM = {"id": "ui-1", "publisher": PUB, "title": "<script>window.__pwned=1</script> Militants release video",
        "body": "A new video released by the Islamic State purportedly shows the beheading of a hostage.\n\n"
                "Residents said the footage was filmed near the river. Officials declined to comment.",
        "media": [{"id": "m1", "type": "video", "caption": "Still from the video", "credit": "Amaq News Agency"}]}
CALM = {"id": "ui-0", "publisher": PUB, "title": "Earlier held item",
        "body": "Photos purportedly show the execution of prisoners, in a video released by al-Shabaab."}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium; "
                       ".ci/run installs it)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("ui-live")
    keys = {role: create_key(data_dir=data, role=role, publisher=PUB) for role in ("cms", "moderator", "admin")}
    with live_server(server_env(data), log_path=data / "server.log") as (base, _proc):
        yield base, keys


def test_sign_in_queue_item_override_then_api_and_audit(server):
    playwright = pytest.importorskip("playwright.sync_api")
    base, keys = server
    api = httpx.Client(base_url=base, timeout=15)
    for item in (CALM, ITEM):
        r = api.post("/v1/moderate", json=item, headers={"Authorization": f"Bearer {keys['cms']}"})
        assert r.status_code == 200 and r.json()["decision"] == "hold_for_review", r.text
    moderator_id = keys["moderator"].split("_")[1]

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/ui")
            assert page.url.endswith("/ui/login")
            page.get_by_label("API key").fill(keys["moderator"])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/ui/queue")
            assert page.get_by_role("heading", name="Review queue").is_visible()
            rows = page.locator("table.queue tbody tr")
            assert rows.count() == 2 and "Earlier held item" in rows.nth(0).inner_text()  # oldest first
            title_cell = rows.nth(1).locator("td.title-cell")
            assert "<script>window.__pwned=1</script> Militants release video" in title_cell.inner_text()
            assert page.evaluate("window.__pwned") is None
            page.screenshot(path="/tmp/ui_queue.png", full_page=True)

            page.keyboard.press("j")  # first row
            page.keyboard.press("j")  # second row
            assert page.evaluate("document.activeElement.textContent").endswith("ui-1")
            page.keyboard.press("Enter")
            page.wait_for_url("**/ui/items/example-news/ui-1")
            heading = page.locator("h1#article-title")
            assert heading.inner_text().startswith("<script>window.__pwned=1</script>")
            assert page.evaluate("window.__pwned") is None
            marks = page.locator("#article-body mark")
            assert marks.count() >= 3 and "video released by the Islamic State" in marks.all_inner_texts()
            assert page.locator("ol.media mark", has_text="Amaq News Agency").count() == 1
            assert page.locator("ul.disclaimers li", has_text="extremist_source_notice").count() >= 1
            page.screenshot(path="/tmp/ui_item.png", full_page=True)

            page.get_by_label("Remove unverified").check()
            page.keyboard.press("a")  # approve, focus moves to the reason
            assert page.evaluate("document.activeElement.id") == "reason"
            page.get_by_label("Reason").select_option("verified")
            page.get_by_label("Note").fill("Footage confirmed by our bureau.")
            page.get_by_role("button", name="Record decision").click()
            page.wait_for_selector(".flash-info")
            assert "decision is now publish_with_disclaimers" in page.locator(".flash-info").inner_text()
            assert "publish with disclaimers" in page.locator("p.decision").inner_text()
            page.screenshot(path="/tmp/ui_item_after.png", full_page=True)
        finally:
            browser.close()

    admin = {"Authorization": f"Bearer {keys['admin']}"}
    view = api.get(f"/v1/items/{PUB}/ui-1", headers=admin).json()
    assert view["decision"] == "publish_with_disclaimers" and view["current"]["source"] == "override"
    assert "unverified" not in {lab["name"] for lab in view["current"]["labels"]}
    assert view["overrides"][0]["reason"] == "verified" and view["overrides"][0]["created_by"] == moderator_id
    events = api.get("/v1/audit", params={"item_id": "ui-1", "action": "override.create"}, headers=admin).json()["events"]
    assert len(events) == 1 and events[0]["actor"] == moderator_id
    assert events[0]["after"]["reason"] == "verified" and events[0]["after"]["note"] == "Footage confirmed by our bureau."
    assert events[0]["before"]["decision"] == "hold_for_review"
    queue = api.get("/v1/review-queue", headers=admin).json()["items"]
    assert [e["item_id"] for e in queue] == ["ui-0"]
    api.close()
