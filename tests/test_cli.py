"""The modlabel command line: moderate, scan, eval."""

import json

import orjson
import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.support import seed_item

runner = CliRunner()


def test_moderate_reads_a_file_and_prints_the_result(tmp_path):
    path = tmp_path / "item.json"
    path.write_text(json.dumps(seed_item()))
    r = runner.invoke(app, ["moderate", str(path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["decision"] == "publish_with_disclaimers"
    assert {lab["name"] for lab in out["labels"]} == {"extremist_source", "graphic_violence", "unverified"}


def test_moderate_from_stdin_and_bad_input():
    r = runner.invoke(app, ["moderate", "-"], input=json.dumps({"body": "Quiet day at the market."}))
    assert r.exit_code == 0 and json.loads(r.stdout)["decision"] == "publish"
    r = runner.invoke(app, ["moderate", "-"], input='{"type": "podcast"}')
    assert r.exit_code != 0 and "type" in r.output


def test_scan_writes_one_result_a_line_and_resumes(tmp_path):
    src = tmp_path / "in.jsonl"
    out = tmp_path / "out.jsonl"
    items = [{"id": f"i{i}", "body": "Photos show pools of blood." if i % 2 else "Nothing to see."} for i in range(10)]
    src.write_bytes(b"\n".join(orjson.dumps(i) for i in items))
    r = runner.invoke(app, ["scan", str(src), "-o", str(out), "--workers", "2"])
    assert r.exit_code == 0, r.output
    rows = [orjson.loads(l) for l in out.read_bytes().splitlines()]
    assert sorted(r["item_id"] for r in rows) == sorted(i["id"] for i in items)
    r = runner.invoke(app, ["scan", str(src), "-o", str(out), "--workers", "1"])
    assert r.exit_code == 0
    assert len(out.read_bytes().splitlines()) == 10  # nothing moderated twice


def test_eval_json_has_the_contract_keys(tmp_path):
    path = tmp_path / "eval.jsonl"
    rows = [
        {"id": "e1", "body": "Photos show pools of blood on the road.", "expected": {"extremist_source": False, "actors": [], "graphic_violence": "graphic", "unverified": False, "decision": "publish_with_disclaimers"}},
        {"id": "e2", "body": "The team won.", "expected": {"extremist_source": False, "actors": [], "graphic_violence": "none", "unverified": False, "decision": "publish"}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    r = runner.invoke(app, ["eval", str(path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    for key in ("extremist_source.f1", "graphic_violence.f1", "graphic_violence.severity_accuracy", "unverified.f1", "decision.accuracy", "n"):
        assert key in out
    assert out["n"] == 2 and out["decision.accuracy"] == 1.0 and out["graphic_violence.f1"] == 1.0


def test_eval_side_by_side_stages(tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text(json.dumps({"id": "e1", "body": "The team won.", "expected": {"extremist_source": False, "actors": [], "graphic_violence": "none", "unverified": False, "decision": "publish"}}))
    r = runner.invoke(app, ["eval", str(path), "--json", "--stages", "all"])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.stdout)["stages"]) == {"rules", "classifier", "combined"}


def test_eval_plot_writes_pngs(tmp_path):
    path = tmp_path / "eval.jsonl"
    rows = [
        {"id": "e1", "body": "Photos show pools of blood on the road.", "expected": {"extremist_source": False, "actors": [], "graphic_violence": "graphic", "unverified": False, "decision": "publish_with_disclaimers"}},
        {"id": "e2", "body": "The video could not be independently verified.", "expected": {"extremist_source": False, "actors": [], "graphic_violence": "none", "unverified": True, "decision": "publish_with_disclaimers"}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    plots = tmp_path / "plots"
    r = runner.invoke(app, ["eval", str(path), "--stages", "all", "--plot", str(plots)])
    assert r.exit_code == 0, r.output
    pngs = sorted(p.name for p in plots.glob("*.png"))
    assert "pr_graphic_violence.png" in pngs and "confusion_decision_combined.png" in pngs
    assert all((plots / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
