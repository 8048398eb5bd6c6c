"""POST /v1/moderate over HTTP: contract shape, status codes, error bodies."""

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.schemas import ModerationResult
from tests.support import bearer, seed_item


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), bootstrap_admin=False)
    app = create_app(settings)
    with TestClient(app) as c:
        c.headers.update(bearer(app.state.services.storage, "admin"))
        yield c


def post(client, item):
    return client.post("/v1/moderate", json=item)


def test_clean_article_is_published_without_labels(client):
    r = post(client, {"title": "Local team wins cup", "body": "The home side won 2-1 in front of a record crowd."})
    assert r.status_code == 200
    body = r.json()
    ModerationResult.model_validate(body)
    assert body["decision"] == "publish" and body["labels"] == [] and body["disclaimers"] == []
    assert len(body["content_hash"]) == 64
    assert body["policy_version"] and body["model_version"]


def test_labels_carry_evidence_and_disclaimers(client):
    item = {"id": "a1", "body": "A new video released by the Islamic State purportedly shows bodies lying in the street.",
            "media": [{"id": "m1", "type": "video", "caption": "Still from the video", "credit": "Amaq News Agency"}]}
    body = post(client, item).json()
    names = {lab["name"]: lab for lab in body["labels"]}
    assert set(names) == {"extremist_source", "graphic_violence", "unverified"}
    assert names["extremist_source"]["actors"] == ["Islamic State"]
    assert "rule" in names["extremist_source"]["stages"]
    for lab in body["labels"]:
        assert lab["evidence"]
    placements = {(d["id"], d["placement"], d.get("media_id")) for d in body["disclaimers"]}
    assert ("extremist_source_notice", "before_media", "m1") in placements
    assert body["decision"] == "publish_with_disclaimers"


def test_extremist_and_extreme_is_held(client):
    body = post(client, {"body": "The militants released a video showing the beheading of a hostage, the Islamic State's Amaq agency said."}).json()
    assert body["decision"] == "hold_for_review"


def test_html_body_offsets_refer_to_visible_text(client):
    html = "<p>Intro.</p><script>var x='ISIS video';</script><p>Photos show <b>pools of blood</b> on the road.</p>"
    body = post(client, {"body": html, "body_format": "html"}).json()
    ev = body["labels"][0]["evidence"][0]
    assert ev["field"] == "body" and ev["text"] == "pools of blood"


def test_content_hash_is_stable_and_ignores_the_id(client):
    a = post(client, {"id": "x1", "body": "Same text."}).json()["content_hash"]
    b = post(client, {"id": "x2", "body": "Same text."}).json()["content_hash"]
    c = post(client, {"id": "x1", "body": "Other text."}).json()["content_hash"]
    assert a == b != c


@pytest.mark.parametrize("item,field", [
    ({"type": "podcast"}, "type"),
    ({"media": [{"caption": "x" * 20_001}]}, "media.0.caption"),
    ({"media": [{"pdq": "zz"}]}, "media.0.pdq"),
    ({"publisher": "Bad Name!"}, "publisher"),
    ({"media": [{}] * 101}, "media"),
])
def test_invalid_fields_give_422_naming_the_field(client, item, field):
    r = post(client, item)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_error" and err["field"] == field and err["message"]


def test_malformed_json_gives_400(client):
    r = client.post("/v1/moderate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_wrong_content_type_gives_415(client):
    r = client.post("/v1/moderate", content=b"body", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["field"] == "content-type"


def test_oversized_body_gives_413(client):
    r = client.post("/v1/moderate", content=b"x" * (2 * 1024 * 1024 + 1), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_unknown_route_is_json_404(client):
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_seed_article_over_http(client):
    body = post(client, seed_item()).json()
    labels = {lab["name"]: lab for lab in body["labels"]}
    assert labels["extremist_source"]["actors"] == ["Islamic State"]
    assert labels["graphic_violence"]["severity"] == "graphic"
    assert "unverified" in labels
    assert body["decision"] == "publish_with_disclaimers"
    statement = [d for d in body["disclaimers"] if d["id"] == "publisher_statement"]
    assert statement and statement[0]["already_present"] is True
    assert all(not d["already_present"] for d in body["disclaimers"] if d["id"] != "publisher_statement")
