"""``modlabel report``: counts per decision, label, severity and actor, and the PNG bar charts."""

from __future__ import annotations

import json

import orjson
from typer.testing import CliRunner

from service.cli import app
from service.reports import read_report

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"


def label(name, **extra):
    return {"name": name, "confidence": 0.9, "stages": ["rule"], "evidence": [], **extra}


RESULTS = [
    {"item_id": "a", "decision": "publish", "labels": []},
    {"item_id": "b", "decision": "publish_with_disclaimers", "labels": [label("graphic_violence", severity="graphic")]},
    {"item_id": "c", "decision": "hold_for_review", "labels": [
        label("extremist_source", actors=["Islamic State", "al-Qaeda"]), label("graphic_violence", severity="extreme")]},
    {"item_id": "d", "decision": "publish_with_disclaimers", "labels": [label("extremist_source", actors=["Islamic State"]),
                                                                         label("unverified")]},
    {"item_id": "e", "error": {"code": "invalid_item", "message": "type: ..."}},
]


def write(tmp_path, rows=RESULTS, extra=b"{not json\n"):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows) + extra)
    return path


def test_counts_per_dimension(tmp_path):
    rep = read_report(write(tmp_path))
    assert (rep.results, rep.errors, rep.unreadable) == (4, 1, 1)
    assert rep.rows("decision") == [("publish", 1), ("publish_with_disclaimers", 2), ("hold_for_review", 1)]
    assert dict(rep.rows("label")) == {"extremist_source": 2, "graphic_violence": 2, "unverified": 1}
    assert dict(rep.rows("severity")) == {"graphic": 1, "extreme": 1}
    assert rep.rows("actor") == [("Islamic State", 2), ("al-Qaeda", 1)]


def test_report_prints_tables_and_json(tmp_path):
    path = write(tmp_path)
    r = runner.invoke(app, ["report", str(path)])
    assert r.exit_code == 0, r.output
    for text in ("4 moderated, 1 failed, 1 unreadable line(s)", "by decision", "by label", "by severity", "by actor",
                 "publish_with_disclaimers", "Islamic State", "50.0"):
        assert text in r.stdout, text
    r = runner.invoke(app, ["report", str(path), "--json"])
    out = json.loads(r.stdout)
    assert out["results"] == 4 and out["decision"]["publish_with_disclaimers"] == 2 and out["actor"]["al-Qaeda"] == 1


def test_report_writes_one_png_bar_chart_per_dimension(tmp_path):
    plots = tmp_path / "plots"
    r = runner.invoke(app, ["report", str(write(tmp_path)), "--plot", str(plots)])
    assert r.exit_code == 0, r.output
    written = sorted(p.name for p in plots.iterdir())
    assert written == ["actor.png", "decision.png", "label.png", "severity.png"]
    for p in plots.iterdir():
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 2000


def test_empty_dimensions_get_no_chart_and_a_missing_file_is_an_error(tmp_path):
    plots = tmp_path / "plots"
    r = runner.invoke(app, ["report", str(write(tmp_path, RESULTS[:1], b"")), "--plot", str(plots)])
    assert r.exit_code == 0 and "(none)" in r.stdout
    assert sorted(p.name for p in plots.iterdir()) == ["decision.png"]
    r = runner.invoke(app, ["report", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 2 and "no such file" in r.output


def test_scan_then_report(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    items = [{"id": "s1", "body": "Photos show pools of blood on the road."}, {"id": "s2", "body": "Nothing to see."},
             {"id": "s3", "body": "A video released by the Islamic State purportedly shows the beheading of a hostage."}]
    src.write_bytes(b"\n".join(orjson.dumps(i) for i in items))
    assert runner.invoke(app, ["scan", str(src), "-o", str(out), "--workers", "1", "--rules-only"]).exit_code == 0
    r = runner.invoke(app, ["report", str(out), "--json"])
    counts = json.loads(r.stdout)
    assert counts["results"] == 3 and sum(counts["decision"].values()) == 3
    assert counts["actor"] == {"Islamic State": 1} and counts["severity"].get("extreme") == 1
