"""Hash banks over HTTP on SQLite and PostgreSQL: matching through /v1/moderate and the signed webhook,
negative banks, flood quarantine, retroactive matching, import/export, admin API errors."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageEnhance
from sqlmodel import select
from standardwebhooks import Webhook

from classifiers.hashing import compute_pdq, hamming_distance
from service.app import create_app
from service.auth import create_key
from service.db import AuditEvent
from service.db.secrets import add_secret

PUBLISHER = "example-news"


# -- images ---------------------------------------------------------------------------------


def scene(seed: int, size=(640, 480)) -> Image.Image:
    """A synthetic photo: overlapping shapes in random colours (deterministic per seed)."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = [x0, y0, x0 + rng.randrange(20, 240), y0 + rng.randrange(20, 200)]
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return img


def png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def lightly_edited(img: Image.Image) -> bytes:
    """Resized to 60 %, brightened by 25 %, saved as JPEG quality 30."""
    small = img.resize((img.width * 3 // 5, img.height * 3 // 5), Image.LANCZOS)
    out = io.BytesIO()
    ImageEnhance.Brightness(small).enhance(1.25).save(out, "JPEG", quality=30)
    return out.getvalue()


@pytest.fixture(scope="module")
def hashes() -> dict[str, str]:
    original = compute_pdq(png(scene(1))).hash_hex
    edited = compute_pdq(lightly_edited(scene(1))).hash_hex
    unrelated = compute_pdq(png(scene(2))).hash_hex
    assert 0 < hamming_distance(original, edited) <= 31 < hamming_distance(original, unrelated)
    return {"original": original, "edited": edited, "unrelated": unrelated,
            "archive": compute_pdq(png(scene(3))).hash_hex, "third": compute_pdq(png(scene(4))).hash_hex}


# -- app ------------------------------------------------------------------------------------


@pytest.fixture
def app(storage, make_settings):
    return create_app(make_settings())


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin(storage) -> dict:
    with storage.session() as s:
        _, key = create_key(s, role="admin", actor="test")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def publisher_admin(storage) -> dict:
    with storage.session() as s:
        _, key = create_key(s, role="admin", publisher=PUBLISHER, actor="test")
    return {"Authorization": f"Bearer {key}"}


def make_bank(client, admin, name="terror", **settings) -> dict:
    r = client.post("/v1/banks", json={"name": name, **settings}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def add_entry(client, admin, bank, pdq, **fields) -> dict:
    body = {"pdq": pdq, "label": "extremist_source", "actors": ["ISIS"], "source": "test", **fields}
    r = client.post(f"/v1/banks/{bank}/entries", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def moderate(client, admin, pdq, item_id=None, publisher=PUBLISHER, **extra) -> dict:
    item = {"publisher": publisher, "type": "media", "media": [
        {"id": "m0", "caption": "A street in the city"}, {"id": "m1", "type": "image", "pdq": pdq}], **extra}
    if item_id:
        item["id"] = item_id
    r = client.post("/v1/moderate", json=item, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


# -- matching -------------------------------------------------------------------------------


def test_edited_copy_is_blocked_through_moderate_and_unrelated_images_pass(client, admin, hashes):
    make_bank(client, admin)
    entry = add_entry(client, admin, "terror", hashes["original"])["entries"][0]
    assert entry["actors"] == ["Islamic State"] and entry["action"] == "block" and entry["status"] == "active"

    result = moderate(client, admin, hashes["edited"], item_id="a1")
    assert result["decision"] == "block"
    (label,) = result["labels"]
    assert label["name"] == "extremist_source" and label["stages"] == ["hash"] and label["actors"] == ["Islamic State"]
    ev = label["evidence"][0]
    distance = hamming_distance(hashes["original"], hashes["edited"])
    assert ev == {"field": "media[1].pdq", "start": 0, "end": 64, "text": hashes["edited"],
                  "source": f"hash:terror:{entry['id']}:d={distance}"}
    assert [(d["id"], d["media_id"]) for d in result["disclaimers"] if d["placement"] == "before_media"] == [
        ("extremist_source_notice", "m1")]

    clean = moderate(client, admin, hashes["unrelated"], item_id="a2")
    assert clean["decision"] == "publish" and clean["labels"] == []


def deliver_photo(client, secret: str, pdq: str, msg_id: str):
    """A signed pre-publish webhook for an item with one photo of hash ``pdq``."""
    body = json.dumps({"id": f"wh-{msg_id}", "publisher": PUBLISHER, "title": "Photos from the scene",
                       "media": [{"id": "photo-1", "type": "image", "pdq": pdq}]})
    now = datetime.now(timezone.utc)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(msg_id, now, body), "content-type": "application/json"}
    return client.post("/v1/webhooks/pre-publish", content=body, headers=headers)


def test_edited_copy_is_blocked_through_the_signed_webhook(client, admin, storage, hashes):
    make_bank(client, admin, publisher=PUBLISHER)
    add_entry(client, admin, "terror", hashes["original"], label="graphic_violence", severity="extreme", actors=[])
    with storage.session() as s:
        secret = add_secret(s, publisher=PUBLISHER).secret

    def deliver(pdq, msg_id):
        return deliver_photo(client, secret, pdq, msg_id)

    r = deliver(hashes["edited"], "msg_1")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["decision"] == "block" and answer["allow"] is False
    assert answer["labels"][0]["severity"] == "extreme" and answer["labels"][0]["stages"] == ["hash"]
    ok = deliver(hashes["unrelated"], "msg_2").json()
    assert ok["decision"] == "publish" and ok["allow"] is True


def test_hold_for_review_entries_hold(client, admin, hashes):
    make_bank(client, admin)
    add_entry(client, admin, "terror", hashes["original"], action="hold_for_review")
    result = moderate(client, admin, hashes["edited"])
    assert result["decision"] == "hold_for_review" and result["labels"][0]["stages"] == ["hash"]


def test_negative_bank_wins_for_its_publisher(client, admin, hashes):
    make_bank(client, admin)  # global
    add_entry(client, admin, "terror", hashes["original"])
    make_bank(client, admin, name="example-archive", publisher=PUBLISHER, kind="negative")
    r = client.post("/v1/banks/example-archive/entries", json={"pdq": hashes["original"], "source": "own archive"},
                    headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["entries"][0]["action"] == "allow"
    mine = moderate(client, admin, hashes["edited"])
    assert mine["decision"] == "publish" and mine["labels"] == []
    theirs = moderate(client, admin, hashes["edited"], publisher="other-news")
    assert theirs["decision"] == "block"


def test_removed_entry_stops_matching_at_once(client, admin, hashes):
    make_bank(client, admin)
    entry = add_entry(client, admin, "terror", hashes["original"])["entries"][0]
    r = client.delete(f"/v1/banks/terror/entries/{entry['id']}", params={"reason": "false positive"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "removed"
    assert moderate(client, admin, hashes["edited"])["decision"] == "publish"
    again = add_entry(client, admin, "terror", hashes["original"])  # a removed hash may be added again
    assert again["entries"][0]["id"] == entry["id"] and again["entries"][0]["status"] == "active"
    assert moderate(client, admin, hashes["edited"])["decision"] == "block"


def test_changes_made_by_another_process_are_picked_up(app, client, admin, storage, make_settings, hashes):
    make_bank(client, admin)
    other = create_app(make_settings())  # a second process on the same database
    with TestClient(other) as second:
        assert moderate(second, admin, hashes["edited"])["decision"] == "publish"
        add_entry(client, admin, "terror", hashes["original"])  # through the first process
        assert other.state.services.banks.refresh() == 1  # what the next request does after bank_refresh_seconds
        assert other.state.services.banks.refresh() == 0  # rows already applied are not fetched again
        assert moderate(second, admin, hashes["edited"])["decision"] == "block"


# -- flood quarantine -----------------------------------------------------------------------


def test_an_entry_matching_too_many_items_is_quarantined(client, admin, storage, hashes):
    make_bank(client, admin, flood_threshold=2, flood_window_seconds=3600)
    entry_id = add_entry(client, admin, "terror", hashes["original"])["entries"][0]["id"]
    assert moderate(client, admin, hashes["edited"], item_id="f1")["decision"] == "block"
    assert moderate(client, admin, hashes["edited"], item_id="f1")["decision"] == "block"  # same item: one hit
    assert moderate(client, admin, hashes["edited"], item_id="f2")["decision"] == "block"
    third = moderate(client, admin, hashes["edited"], item_id="f3")  # a third distinct item: more than 2
    assert third["decision"] == "publish" and third["labels"] == []

    entry = client.get(f"/v1/banks/terror/entries/{entry_id}", headers=admin).json()
    assert entry["status"] == "quarantined" and entry["status_reason"].startswith("flood: matched 3 distinct items")
    listed = client.get("/v1/bank-entries", params={"status": "quarantined"}, headers=admin).json()["entries"]
    assert [e["id"] for e in listed] == [entry_id]
    assert client.get("/v1/banks/terror", headers=admin).json()["entries"] == {"active": 0, "quarantined": 1, "removed": 0}
    with storage.session() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "bank.entry_quarantine")).all()
        assert len(events) == 1 and events[0].after["entry_id"] == entry_id

    restored = client.patch(f"/v1/banks/terror/entries/{entry_id}", json={"status": "active", "reason": "reviewed: real"},
                            headers=admin)
    assert restored.status_code == 200 and restored.json()["status"] == "active"
    assert moderate(client, admin, hashes["edited"], item_id="f4")["decision"] == "block"  # the count starts afresh


# -- retroactive matching -------------------------------------------------------------------


def test_adding_an_entry_holds_stored_items_whose_media_match(client, admin, hashes):
    make_bank(client, admin, name="mine", kind="negative", publisher=PUBLISHER)
    client.post("/v1/banks/mine/entries", json={"pdq": hashes["archive"]}, headers=admin)
    assert moderate(client, admin, hashes["edited"], item_id="r1")["decision"] == "publish"
    assert moderate(client, admin, hashes["unrelated"], item_id="r2")["decision"] == "publish"
    assert moderate(client, admin, hashes["archive"], item_id="r3")["decision"] == "publish"
    moderate(client, admin, hashes["edited"], item_id="r4")
    override = client.post(f"/v1/items/{PUBLISHER}/r4/override", json={"decision": "publish", "reason": "newsworthy"},
                           headers=admin)

    make_bank(client, admin)
    outcome = client.post("/v1/banks/terror/import", content=f"pdq,label,actors\n{hashes['original']},extremist_source,ISIS\n"
                          f"{hashes['archive']},graphic_violence,\n".replace("graphic_violence,", "extremist_source,"),
                          headers={**admin, "content-type": "text/csv"})
    assert outcome.status_code == 200, outcome.text
    retro = outcome.json()["retro"]
    held = {h["item_id"] for h in retro["held"]}
    assert "r1" in held and "r2" not in held and "r3" not in held  # r3: the publisher's archive vouches for it
    assert retro["media_scanned"] >= 4

    item = client.get(f"/v1/items/{PUBLISHER}/r1", headers=admin).json()
    assert item["decision"] == "hold_for_review" and item["current"]["source"] == "rescan"
    label = item["current"]["labels"][0]
    assert label["name"] == "extremist_source" and "hash" in label["stages"]
    assert label["evidence"][-1]["field"] == "media[1].pdq" and label["evidence"][-1]["source"].startswith("hash:terror:")
    assert client.get(f"/v1/items/{PUBLISHER}/r2", headers=admin).json()["decision"] == "publish"
    assert "r4" not in held
    assert override.status_code == 201, override.text
    r4 = client.get(f"/v1/items/{PUBLISHER}/r4", headers=admin).json()
    assert r4["current"]["source"] == "override" and r4["decision"] == "publish"  # a moderator's decision stands


def test_retroactive_matches_above_the_flood_threshold_quarantine_the_entry(client, admin, hashes):
    for n in range(3):
        moderate(client, admin, hashes["edited"], item_id=f"q{n}")
    make_bank(client, admin, flood_threshold=2)
    outcome = add_entry(client, admin, "terror", hashes["original"])
    assert outcome["retro"]["items_held"] == 0 and outcome["retro"]["quarantined_entries"] == [outcome["entries"][0]["id"]]
    assert client.get(f"/v1/items/{PUBLISHER}/q0", headers=admin).json()["decision"] == "publish"
    assert moderate(client, admin, hashes["edited"])["decision"] == "publish"


# -- import and export ----------------------------------------------------------------------


def _entries_without_ids(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("id", "created_at")} for r in rows]


def test_csv_round_trip(client, admin, hashes):
    make_bank(client, admin)
    rows = [
        {"pdq": hashes["original"], "label": "extremist_source", "severity": "", "actors": "ISIS|al-Shabaab",
         "action": "block", "source": "gifct", "note": "=HYPERLINK(\"http://x\")", "status": "active"},
        {"pdq": hashes["unrelated"], "label": "graphic_violence", "severity": "extreme", "actors": "",
         "action": "hold_for_review", "source": "", "note": "line one\nline two, \"quoted\"", "status": "quarantined"},
        {"pdq": hashes["third"].upper(), "label": "extremist_source", "severity": "", "actors": "Amaq", "action": "",
         "source": "", "note": "'+already escaped", "status": ""},
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    r = client.post("/v1/banks/terror/import", content=out.getvalue(), headers={**admin, "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert (r.json()["added"], r.json()["unchanged"]) == (3, 0)

    exported = client.get("/v1/banks/terror/export", params={"format": "csv"}, headers=admin)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "'=HYPERLINK" in exported.text  # formula cells are defused
    parsed = list(csv.DictReader(io.StringIO(exported.text)))
    assert [p["actors"] for p in parsed] == ["Islamic State|al-Shabaab", "", "Islamic State"]
    assert parsed[2]["pdq"] == hashes["third"] and parsed[2]["action"] == "block"

    make_bank(client, admin, name="copy")
    again = client.post("/v1/banks/copy/import", content=exported.text, headers={**admin, "content-type": "text/csv"})
    assert again.status_code == 200 and again.json()["added"] == 3
    copied = client.get("/v1/banks/copy/export", params={"format": "csv"}, headers=admin).text
    assert _entries_without_ids(list(csv.DictReader(io.StringIO(copied)))) == _entries_without_ids(parsed)
    notes = [e["note"] for e in client.get("/v1/banks/copy/entries", headers=admin).json()["entries"]]
    # A cell written as '+x is read as an escaped +x (what export writes for +x).
    assert notes == ['=HYPERLINK("http://x")', 'line one\nline two, "quoted"', "+already escaped"]

    repeat = client.post("/v1/banks/copy/import", content=exported.text, headers={**admin, "content-type": "text/csv"})
    assert (repeat.json()["added"], repeat.json()["unchanged"]) == (0, 3)


def test_json_round_trip(client, admin, hashes):
    make_bank(client, admin, distance=20, description="shared list")
    entries = [{"pdq": hashes["original"], "label": "graphic_violence", "severity": "graphic", "note": "n1"},
               {"pdq": hashes["unrelated"], "label": "extremist_source", "actors": ["Daesh"], "action": "hold_for_review"}]
    r = client.post("/v1/banks/terror/import", json=entries, headers=admin)
    assert r.status_code == 200 and r.json()["added"] == 2
    client.delete(f"/v1/banks/terror/entries/{r.json()['entries'][1]['id']}", headers=admin)
    exported = client.get("/v1/banks/terror/export", params={"format": "json", "status": "all"}, headers=admin).json()
    assert exported["bank"]["distance"] == 20 and exported["bank"]["description"] == "shared list"
    assert [(e["actors"], e["status"]) for e in exported["entries"]] == [([], "active"), (["Islamic State"], "removed")]
    make_bank(client, admin, name="copy")
    assert client.post("/v1/banks/copy/import", json=exported, headers=admin).json()["added"] == 2
    copied = client.get("/v1/banks/copy/export", params={"format": "json", "status": "all"}, headers=admin).json()
    strip = lambda rows: [{k: v for k, v in e.items() if k != "status_reason"} for e in _entries_without_ids(rows)]  # noqa: E731
    assert strip(copied["entries"]) == strip(exported["entries"])
    assert client.get("/v1/banks/copy/export", params={"format": "json"}, headers=admin).json()["entries"][0]["status"] == "active"


def test_import_is_all_or_nothing_and_names_the_bad_field(client, admin, hashes):
    make_bank(client, admin)
    body = f"pdq,label\n{hashes['original']},extremist_source\n{'0' * 63}x,extremist_source\n"
    r = client.post("/v1/banks/terror/import", content=body, headers={**admin, "content-type": "text/csv"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "rows.1.pdq"
    assert client.get("/v1/banks/terror", headers=admin).json()["entries"]["active"] == 0
    r = client.post("/v1/banks/terror/import", content="pdq,lable\n", headers={**admin, "content-type": "text/csv"})
    assert r.status_code == 422 and "lable" in r.json()["error"]["message"]
    r = client.post("/v1/banks/terror/import", json=[{"pdq": hashes["original"], "label": "graphic_violence"}], headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "entries.0.severity"
    r = client.post("/v1/banks/terror/import", content="x", headers={**admin, "content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["field"] == "content-type"


# -- admin API ------------------------------------------------------------------------------


def test_entry_validation(client, admin, hashes):
    make_bank(client, admin)
    cases = [
        ({"pdq": hashes["original"]}, "label"),
        ({"pdq": hashes["original"], "label": "extremist_source", "actors": ["Nobody Known"]}, "actors.0"),
        ({"pdq": hashes["original"], "label": "extremist_source", "severity": "graphic"}, "severity"),
        ({"pdq": "0" * 64, "label": "extremist_source"}, "pdq"),
        ({"pdq": "zz", "label": "extremist_source"}, "pdq"),
        ({"pdq": hashes["original"], "label": "extremist_source", "action": "allow"}, "action"),
    ]
    for body, field in cases:
        r = client.post("/v1/banks/terror/entries", json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"] == field, (body, r.json())
    add_entry(client, admin, "terror", hashes["original"])
    dup = client.post("/v1/banks/terror/entries", json={"pdq": hashes["original"], "label": "extremist_source"}, headers=admin)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "entry_exists"


def test_bank_errors_and_settings(client, admin, publisher_admin):
    make_bank(client, admin)
    assert client.post("/v1/banks", json={"name": "terror"}, headers=admin).status_code == 409
    r = client.post("/v1/banks", json={"name": "Bad Name"}, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    assert client.post("/v1/banks", json={"name": "far", "distance": 200}, headers=admin).status_code == 422
    assert client.get("/v1/banks/nope", headers=admin).json()["error"]["code"] == "bank_not_found"
    assert client.get("/v1/banks/terror/entries/99", headers=admin).status_code == 404
    changed = client.patch("/v1/banks/terror", json={"distance": 12, "flood_threshold": None}, headers=admin).json()
    assert changed["distance"] == 12 and changed["flood_threshold"] is None
    assert client.get("/v1/banks", headers=admin).json()[0]["name"] == "terror"

    # A publisher's admin key: its own banks, read-only access to global ones.
    assert client.post("/v1/banks", json={"name": "theirs", "publisher": "other-news"}, headers=publisher_admin).status_code == 403
    assert client.post("/v1/banks", json={"name": "global2"}, headers=publisher_admin).status_code == 403
    assert client.post("/v1/banks", json={"name": "own", "publisher": PUBLISHER}, headers=publisher_admin).status_code == 201
    assert client.patch("/v1/banks/terror", json={"distance": 3}, headers=publisher_admin).status_code == 403
    assert client.get("/v1/banks/terror", headers=publisher_admin).status_code == 200
    assert client.get("/v1/bank-entries", headers=publisher_admin).status_code == 403
    assert client.get("/v1/banks").status_code == 401


def test_bank_changes_are_audited(client, admin, storage, hashes):
    make_bank(client, admin)
    add_entry(client, admin, "terror", hashes["original"])
    with storage.session() as s:
        actions = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.action.startswith("bank."))).all()]
    assert actions == ["bank.create", "bank.entries_add"]


# -- entries made from images (variant hashes) -------------------------------------------------


def jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def cropped_rotated(img: Image.Image) -> bytes:
    """The light edit of the issue: 5% cropped (centred), turned 2 degrees, saved as JPEG quality 30."""
    dx, dy = round(img.width * 0.025), round(img.height * 0.025)
    edited = img.crop((dx, dy, img.width - dx, img.height - dy)).rotate(2, resample=Image.BICUBIC)
    return jpeg(edited, 30)


def upload_entry(client, admin, bank, data: bytes, **fields):
    return client.post(f"/v1/banks/{bank}/entries/image", files={"file": ("picture.png", data, "image/png")},
                       data={"label": "extremist_source", "actors": ["ISIS"], **fields}, headers=admin)


def hash_of(client, admin, data: bytes, **params) -> dict:
    r = client.post("/v1/media/hash", files={"file": ("x.jpg", data, "image/jpeg")}, params=params, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_entry_made_from_an_image_blocks_a_cropped_and_rotated_copy(client, admin, storage):
    make_bank(client, admin)
    r = upload_entry(client, admin, "terror", png(scene(1)), source="gifct")
    assert r.status_code == 201, r.text
    added = r.json()
    entry = added["entries"][0]
    assert added["image"]["pdq"] == entry["pdq"] == compute_pdq(png(scene(1))).hash_hex
    assert added["image"]["quality"] >= 50 and len(entry["variants"]) == 28
    assert entry["actors"] == ["Islamic State"] and entry["source"] == "gifct"

    edited = hash_of(client, admin, cropped_rotated(scene(1)))["pdq"]
    assert hamming_distance(entry["pdq"], edited) > 31  # the entry's own hash alone would miss it
    nearest = min(hamming_distance(v, edited) for v in entry["variants"])
    result = moderate(client, admin, edited, item_id="img-1")
    assert result["decision"] == "block"
    (label,) = result["labels"]
    assert label["stages"] == ["hash"] and label["evidence"][0]["source"] == f"hash:terror:{entry['id']}:d={nearest}"

    unrelated = hash_of(client, admin, cropped_rotated(scene(2)))["pdq"]
    clean = moderate(client, admin, unrelated, item_id="img-2")
    assert clean["decision"] == "publish" and clean["labels"] == []


def test_an_entry_made_from_an_image_blocks_an_edited_copy_through_the_webhook(client, admin, storage):
    make_bank(client, admin, publisher=PUBLISHER)
    assert upload_entry(client, admin, "terror", png(scene(5)), label="graphic_violence", severity="extreme",
                        actors=[]).status_code == 201
    with storage.session() as s:
        secret = add_secret(s, publisher=PUBLISHER).secret

    def deliver(pdq, msg_id):
        return deliver_photo(client, secret, pdq, msg_id)

    blocked = deliver(hash_of(client, admin, cropped_rotated(scene(5)))["pdq"], "msg_img_1").json()
    assert blocked["decision"] == "block" and blocked["allow"] is False
    assert blocked["labels"][0]["severity"] == "extreme" and blocked["labels"][0]["stages"] == ["hash"]
    passed = deliver(hash_of(client, admin, cropped_rotated(scene(6)))["pdq"], "msg_img_2").json()
    assert passed["decision"] == "publish" and passed["allow"] is True


def test_image_entries_are_refused_like_media_hash_refuses_images(client, admin, publisher_admin, storage):
    make_bank(client, admin)
    bad = client.post("/v1/banks/terror/entries/image", files={"file": ("x.png", b"%PDF-1.7 not an image", "image/png")},
                      data={"label": "extremist_source"}, headers=admin)
    assert bad.status_code == 415 and bad.json()["error"]["code"] == "unsupported_image_type"
    flat = upload_entry(client, admin, "terror", png(Image.new("RGB", (320, 240), (90, 90, 90))))
    assert flat.status_code == 422 and flat.json()["error"]["code"] == "image_not_useful"
    unlabelled = client.post("/v1/banks/terror/entries/image", files={"file": ("x.png", png(scene(1)), "image/png")},
                             headers=admin)
    assert unlabelled.status_code == 422 and unlabelled.json()["error"]["field"] == "label"
    assert upload_entry(client, admin, "terror", png(scene(1)), actors=["Nobody Known"]).json()["error"]["field"] == "actors.0"
    not_multipart = client.post("/v1/banks/terror/entries/image", json={"pdq": "x"}, headers=admin)
    assert not_multipart.status_code == 415
    assert upload_entry(client, admin, "nope", png(scene(1))).status_code == 404
    assert upload_entry(client, publisher_admin, "terror", png(scene(1))).status_code == 403  # a global bank
    assert upload_entry(client, admin, "terror", png(scene(1))).status_code == 201
    again = upload_entry(client, admin, "terror", png(scene(1)))
    assert again.status_code == 409 and again.json()["error"]["code"] == "entry_exists"


def test_image_entries_respect_the_upload_limit(storage, make_settings, admin):
    with TestClient(create_app(make_settings(media_max_upload_bytes=1000))) as small:
        make_bank(small, admin)
        r = upload_entry(small, admin, "terror", png(scene(1)))
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_variants_from_media_hash_travel_through_entries_import_and_export(client, admin):
    hashed = hash_of(client, admin, png(scene(1)), variants="true")
    kinds = [v["kind"] for v in hashed["variants"]]
    assert len(kinds) == 28 and {"crop5+rot+2", "rot-1", "crop8", "mirror"} <= set(kinds)
    variants = [v["pdq"] for v in hashed["variants"]]
    assert "variants" not in hash_of(client, admin, png(scene(1)))
    make_bank(client, admin)
    added = add_entry(client, admin, "terror", hashed["pdq"], variants=variants + [hashed["pdq"], variants[0]])
    assert added["entries"][0]["variants"] == variants  # repeats and the entry's own hash dropped
    assert moderate(client, admin, hash_of(client, admin, cropped_rotated(scene(1)))["pdq"])["decision"] == "block"

    for fmt in ("csv", "json"):
        exported = client.get("/v1/banks/terror/export", params={"format": fmt}, headers=admin)
        make_bank(client, admin, name=f"copy-{fmt}")
        ctype = "text/csv" if fmt == "csv" else "application/json"
        r = client.post(f"/v1/banks/copy-{fmt}/import", content=exported.content, headers={**admin, "content-type": ctype})
        assert r.status_code == 200 and r.json()["entries"][0]["variants"] == variants, (fmt, r.text)
    bad = client.post("/v1/banks/terror/entries", json={"pdq": variants[1], "label": "extremist_source",
                                                        "variants": ["0" * 64]}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "variants.0"


def test_retroactive_matching_uses_the_variants(client, admin):
    stored = hash_of(client, admin, cropped_rotated(scene(7)))["pdq"]
    assert moderate(client, admin, stored, item_id="old-1")["decision"] == "publish"
    make_bank(client, admin)
    outcome = upload_entry(client, admin, "terror", png(scene(7))).json()
    assert [h["item_id"] for h in outcome["retro"]["held"]] == ["old-1"]
    assert client.get(f"/v1/items/{PUBLISHER}/old-1", headers=admin).json()["decision"] == "hold_for_review"


# -- an entry that stops matching: removal and quarantine release its items -------------------------


def test_removing_an_entry_moderates_again_the_items_it_blocked(client, admin, hashes):
    make_bank(client, admin)
    entry = add_entry(client, admin, "terror", hashes["original"])["entries"][0]
    other = add_entry(client, admin, "terror", hashes["third"], action="hold_for_review")["entries"][0]
    assert moderate(client, admin, hashes["edited"], item_id="b1")["decision"] == "block"
    text = {"title": "Islamic State releases a new video", "body": "The Islamic State released a video on Telegram."}
    with_text = moderate(client, admin, hashes["edited"], item_id="b2", **text)
    assert with_text["decision"] == "block" and {lab["name"] for lab in with_text["labels"]} == {"extremist_source"}
    both = moderate(client, admin, hashes["edited"], item_id="b3")
    client.post("/v1/moderate", json={"id": "b3", "publisher": PUBLISHER, "type": "media", "media": [
        {"id": "m0", "pdq": hashes["edited"]}, {"id": "m1", "pdq": hashes["third"]}]}, headers=admin)
    assert both["decision"] == "block"
    moderate(client, admin, hashes["edited"], item_id="b4")
    assert client.post(f"/v1/items/{PUBLISHER}/b4/override", json={"decision": "publish", "reason": "newsworthy"},
                       headers=admin).status_code == 201
    assert moderate(client, admin, hashes["unrelated"], item_id="b5")["decision"] == "publish"

    r = client.delete(f"/v1/banks/terror/entries/{entry['id']}", params={"reason": "false positive"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "removed"
    released = r.json()["released"]
    changed = {c["item_id"]: (c["before"], c["after"]) for c in released["changed"]}
    assert changed == {"b1": ("block", "publish"), "b2": ("block", "publish_with_disclaimers"),
                       "b3": ("block", "hold_for_review")}
    assert released["items_checked"] == 3 and released["items_changed"] == 3  # b4: the override stands; b5: never matched

    b1 = client.get(f"/v1/items/{PUBLISHER}/b1", headers=admin).json()
    assert b1["decision"] == "publish" and b1["current"]["source"] == "rescan" and b1["current"]["labels"] == []
    b2 = client.get(f"/v1/items/{PUBLISHER}/b2", headers=admin).json()["current"]
    assert all("hash" not in lab["stages"] for lab in b2["labels"])  # the text still labels it
    b3 = client.get(f"/v1/items/{PUBLISHER}/b3", headers=admin).json()["current"]
    assert [ev["source"] for lab in b3["labels"] for ev in lab["evidence"]] == [f"hash:terror:{other['id']}:d=0"]
    assert client.get(f"/v1/items/{PUBLISHER}/b4", headers=admin).json()["current"]["source"] == "override"
    events = client.get("/v1/audit", params={"action": "bank.entry_release"}, headers=admin).json()
    assert sorted(e["item_id"] for e in events["events"]) == ["b1", "b2", "b3"]

    held = client.delete(f"/v1/banks/terror/entries/{other['id']}", headers=admin).json()["released"]
    assert held["changed"] == [{"publisher": PUBLISHER, "item_id": "b3", "before": "hold_for_review", "after": "publish"}]


def test_a_flood_quarantine_holds_the_items_the_entry_blocked_and_the_review_queue_says_so(client, admin, hashes):
    make_bank(client, admin, flood_threshold=2, flood_window_seconds=3600)
    entry_id = add_entry(client, admin, "terror", hashes["original"])["entries"][0]["id"]
    for item_id in ("f1", "f2"):
        assert moderate(client, admin, hashes["edited"], item_id=item_id)["decision"] == "block"
    assert moderate(client, admin, hashes["edited"], item_id="f3")["decision"] == "publish"  # trips the flood

    for item_id in ("f1", "f2"):  # suspended, not lifted: a moderator decides
        item = client.get(f"/v1/items/{PUBLISHER}/{item_id}", headers=admin).json()
        assert item["decision"] == "hold_for_review" and item["current"]["source"] == "rescan"
        assert item["current"]["labels"][0]["evidence"][0]["source"].startswith(f"hash:terror:{entry_id}:")
    queue = client.get("/v1/review-queue", headers=admin).json()
    assert {e["item_id"] for e in queue["items"]} == {"f1", "f2"}
    (quarantined,) = queue["quarantined_entries"]
    assert quarantined["bank"] == "terror" and quarantined["entry_id"] == entry_id and quarantined["bank_publisher"] is None
    assert (quarantined["matches"], quarantined["threshold"], quarantined["window_seconds"]) == (3, 2, 3600)
    assert quarantined["reason"].startswith("flood: matched 3 distinct items") and quarantined["quarantined_at"]
    assert quarantined["label"] == "extremist_source" and quarantined["actors"] == ["Islamic State"]


def test_quarantine_by_hand_lists_the_entry_and_restoring_it_clears_the_list(client, admin, hashes):
    make_bank(client, admin, name="mine", publisher=PUBLISHER)
    make_bank(client, admin, name="theirs", publisher="other-news")
    mine = add_entry(client, admin, "mine", hashes["original"])["entries"][0]
    theirs = add_entry(client, admin, "theirs", hashes["third"])["entries"][0]
    assert moderate(client, admin, hashes["edited"], item_id="h1")["decision"] == "block"
    r = client.patch(f"/v1/banks/mine/entries/{mine['id']}", json={"status": "quarantined", "reason": "checking"},
                     headers=admin)
    assert r.status_code == 200 and r.json()["released"]["changed"] == [
        {"publisher": PUBLISHER, "item_id": "h1", "before": "block", "after": "hold_for_review"}]
    client.patch(f"/v1/banks/theirs/entries/{theirs['id']}", json={"status": "quarantined"}, headers=admin)
    with_storage = client.get("/v1/review-queue", params={"publisher": PUBLISHER}, headers=admin).json()
    (listed,) = with_storage["quarantined_entries"]  # another publisher's bank is not shown
    assert listed["entry_id"] == mine["id"] and listed["matches"] is None and listed["reason"] == "checking"
    assert len(client.get("/v1/review-queue", headers=admin).json()["quarantined_entries"]) == 2

    restored = client.patch(f"/v1/banks/mine/entries/{mine['id']}", json={"status": "active"}, headers=admin).json()
    assert restored["released"] is None
    assert client.get("/v1/review-queue", params={"publisher": PUBLISHER}, headers=admin).json()["quarantined_entries"] == []


def test_the_moderator_page_lists_quarantined_entries(client, admin, storage, hashes):
    import re

    make_bank(client, admin, flood_threshold=1)
    entry_id = add_entry(client, admin, "terror", hashes["original"])["entries"][0]["id"]
    moderate(client, admin, hashes["edited"], item_id="p1")
    moderate(client, admin, hashes["edited"], item_id="p2")
    with storage.session() as s:
        _, key = create_key(s, role="moderator", publisher=PUBLISHER, actor="test")
    login = client.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    assert client.post("/ui/login", data={"csrf": csrf, "key": key}).status_code == 200
    page = client.get("/ui/queue")
    assert page.status_code == 200 and "Hash-bank entries quarantined pending review" in page.text
    row = re.search(rf'<tr data-quarantined-entry="{entry_id}">(.*?)</tr>', page.text, re.S).group(1)
    assert "<code>terror</code> / entry" in row and "2 items in 24.0 h" in row and "(threshold 1)" in row
    assert f"{PUBLISHER} / p1" in page.text  # the item it blocked waits in the queue
