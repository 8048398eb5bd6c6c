"""``modlabel banks`` (the same service code as /v1/banks), and ``moderate`` / ``scan`` consulting the hash banks
of the configured database, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json

import orjson
import pytest
from PIL import Image
from sqlmodel import select
from typer.testing import CliRunner

from classifiers.hashing import compute_pdq
from service.cli import app
from service.config import get_settings
from service.db import AuditEvent
from tests.test_banks import png, scene

runner = CliRunner()


def edited_copy(img: Image.Image) -> bytes:
    """5% cropped, turned 2 degrees, JPEG quality 30."""
    dx, dy = round(img.width * 0.025), round(img.height * 0.025)
    out = io.BytesIO()
    img.crop((dx, dy, img.width - dx, img.height - dy)).rotate(2, resample=Image.BICUBIC).save(out, "JPEG", quality=30)
    return out.getvalue()


@pytest.fixture
def configured(storage, db_url, monkeypatch, tmp_path):
    """The CLI's settings point at the test's (migrated, empty) database."""
    monkeypatch.setenv("MODLABEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MODLABEL_CLASSIFIER_ENABLED", "false")
    if db_url.startswith("sqlite"):
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield storage
    get_settings.cache_clear()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    return result


def media_item(item_id: str, pdq: str) -> dict:
    return {"id": item_id, "publisher": "example-news", "type": "media", "media": [{"id": "m1", "pdq": pdq}]}


def test_banks_commands_and_moderate_and_scan_use_the_banks(configured, tmp_path):
    (tmp_path / "orig.png").write_bytes(png(scene(1)))
    r = invoke("banks", "create", "terror")
    assert r.exit_code == 0, r.output
    r = invoke("banks", "add-image", "terror", str(tmp_path / "orig.png"), "--label", "extremist_source",
               "--actor", "ISIS", "--source", "shared list")
    assert r.exit_code == 0, r.output
    added = json.loads(r.stdout)
    entry = added["entries"][0]
    assert entry["pdq"] == compute_pdq(png(scene(1))).hash_hex and len(entry["variants"]) == 28
    assert entry["actors"] == ["Islamic State"] and entry["created_by"] == "cli"
    listed = json.loads(invoke("banks", "list", "--json").stdout)
    assert [(b["name"], b["entries"]["active"]) for b in listed] == [("terror", 1)]

    edited = compute_pdq(edited_copy(scene(1))).hash_hex
    unrelated = compute_pdq(edited_copy(scene(2))).hash_hex
    item = tmp_path / "item.json"
    item.write_text(json.dumps(media_item("c1", edited)))
    r = invoke("moderate", str(item))
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["decision"] == "block" and result["labels"][0]["evidence"][0]["source"].startswith(
        f"hash:terror:{entry['id']}:")
    assert json.loads(invoke("moderate", "--no-banks", str(item)).stdout)["decision"] == "publish"

    batch = tmp_path / "in.jsonl"
    batch.write_bytes(orjson.dumps(media_item("s1", edited)) + b"\n" + orjson.dumps(media_item("s2", unrelated)) + b"\n")
    out = tmp_path / "out.jsonl"
    r = invoke("scan", str(batch), "-o", str(out), "--workers", "1")
    assert r.exit_code == 0, r.output
    decisions = {row["item_id"]: row["decision"] for row in map(orjson.loads, out.read_bytes().splitlines())}
    assert decisions == {"s1": "block", "s2": "publish"}

    with configured.session() as s:
        actions = [(e.action, e.actor_key_id) for e in s.exec(select(AuditEvent)).all() if e.action.startswith("bank.")]
    assert actions == [("bank.create", "cli"), ("bank.entries_add", "cli")]


def test_banks_export_and_import_round_trip(configured, tmp_path):
    (tmp_path / "orig.png").write_bytes(png(scene(3)))
    invoke("banks", "create", "terror")
    invoke("banks", "add-image", "terror", str(tmp_path / "orig.png"), "--label", "graphic_violence",
           "--severity", "extreme", "--action", "hold_for_review")
    for fmt in ("csv", "json"):
        path = tmp_path / f"terror.{fmt}"
        r = invoke("banks", "export", "terror", "-o", str(path))
        assert r.exit_code == 0 and path.stat().st_size > 0, r.output
        assert invoke("banks", "create", f"copy-{fmt}").exit_code == 0
        r = invoke("banks", "import", f"copy-{fmt}", str(path))
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["added"] == 1
    rows = {}
    for name in ("terror", "copy-csv", "copy-json"):
        exported = json.loads(invoke("banks", "export", name, "--format", "json").stdout)
        rows[name] = [{k: v for k, v in e.items() if k not in ("id", "created_at")} for e in exported["entries"]]
    assert rows["terror"] == rows["copy-csv"] == rows["copy-json"]
    assert rows["terror"][0]["severity"] == "extreme" and len(rows["terror"][0]["variants"]) == 28


def test_bank_command_errors(configured, tmp_path):
    (tmp_path / "x.csv").write_text("pdq,label\n")
    r = invoke("banks", "import", "nope", str(tmp_path / "x.csv"))
    assert r.exit_code == 1 and "bank_not_found" in r.output
    invoke("banks", "create", "terror")
    (tmp_path / "flat.png").write_bytes(png(Image.new("RGB", (64, 64), (9, 9, 9))))
    r = invoke("banks", "add-image", "terror", str(tmp_path / "flat.png"), "--label", "extremist_source")
    assert r.exit_code == 1 and "image_not_useful" in r.output
    (tmp_path / "x.txt").write_text("pdq\n")
    assert invoke("banks", "import", "terror", str(tmp_path / "x.txt")).exit_code != 0  # csv or json?
    assert invoke("banks", "create", "Bad Name").exit_code != 0


def test_without_a_database_moderate_runs_without_banks(monkeypatch, tmp_path):
    monkeypatch.setenv("MODLABEL_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("MODLABEL_CLASSIFIER_ENABLED", "false")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        item = tmp_path / "item.json"
        item.write_text(json.dumps(media_item("n1", compute_pdq(png(scene(1))).hash_hex)))
        r = invoke("moderate", str(item))
        assert r.exit_code == 0 and json.loads(r.stdout)["decision"] == "publish"
        assert not (tmp_path / "empty").exists()  # no database was created on the way
    finally:
        get_settings.cache_clear()
