"""Policy as configuration: ``modlabel policy check|diff`` and the SIGHUP reload of a running server."""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.test_client import create_key, live_server, server_env

runner = CliRunner()
LABELS = Path(__file__).resolve().parents[1] / "labels"
ITEMS = [
    {"id": "gv", "body": "Photos show pools of blood on the road."},
    {"id": "clean", "body": "The home side won 2-1 in front of a record crowd."},
    {"id": "isis", "body": "A new video released by the Islamic State purportedly shows bodies lying in the street."},
]


def labels_copy(tmp_path: Path, name: str = "labels") -> Path:
    root = tmp_path / name
    shutil.copytree(LABELS, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def edit_policy(root: Path, **changes) -> None:
    path = root / "policies" / "v1.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2))


def items_file(tmp_path: Path, items=ITEMS, extra_lines: tuple[bytes, ...] = ()) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_bytes(b"\n".join([*(orjson.dumps(i) for i in items), *extra_lines]) + b"\n")
    return path


def test_check_accepts_the_shipped_tree():
    r = runner.invoke(app, ["policy", "check"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("OK ") and "policy-v1" in r.stdout and "example-news" in r.stdout


def test_check_names_file_and_line_of_an_invalid_threshold(tmp_path):
    root = labels_copy(tmp_path)
    data = json.loads((root / "policies" / "v1.json").read_text())
    data["thresholds"]["graphic_violence"] = 1.5
    (root / "policies" / "v1.json").write_text(json.dumps(data, indent=2))
    line = next(i for i, text in enumerate((root / "policies" / "v1.json").read_text().splitlines(), 1) if '"graphic_violence"' in text)
    r = runner.invoke(app, ["policy", "check", "--dir", str(root)])
    assert r.exit_code == 1
    assert f"v1.json:{line}: graphic_violence: threshold must be a number in [0, 1]" in r.output.replace("\n", "")


def test_check_reports_invalid_json_and_bad_templates(tmp_path):
    root = labels_copy(tmp_path)
    (root / "publishers" / "example-news.json").write_text('{\n  "name": "example-news",\n  "display_name": \n}\n')
    r = runner.invoke(app, ["policy", "check", "--dir", str(root)])
    assert r.exit_code == 1 and "example-news.json:4:" in r.output and "invalid JSON" in r.output
    root2 = labels_copy(tmp_path, "labels2")
    en = json.loads((root2 / "templates" / "en.json").read_text())
    key = next(iter(en["templates"]))
    en["templates"][key] = "Hello {reader}"
    (root2 / "templates" / "en.json").write_text(json.dumps(en, indent=2))
    r = runner.invoke(app, ["policy", "check", "--dir", str(root2)])
    assert r.exit_code == 1 and "en.json:" in r.output and "{reader}" in r.output


def test_diff_lists_items_whose_decision_changes(tmp_path):
    other = labels_copy(tmp_path)
    edit_policy(other, version="policy-v2", review_band={"low": 0.0, "high": 1.0})  # every labelled item held
    r = runner.invoke(app, ["policy", "diff", "--against", str(other), "--on", str(items_file(tmp_path)), "--rules-only", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n"] == 3 and out["changed"] == 2 and out["errors"] == []
    assert out["other_policy_version"].startswith("policy-v2+") and out["current_policy_version"].startswith("policy-v1")
    changed = {c["item_id"]: c for c in out["items"]}
    assert set(changed) == {"gv", "isis"}
    assert changed["gv"]["decision_before"] == "publish_with_disclaimers" and changed["gv"]["decision_after"] == "hold_for_review"
    assert changed["gv"]["labels_before"] == changed["gv"]["labels_after"] == ["graphic_violence:graphic"]
    assert changed["gv"]["line"] == 1


def test_diff_table_and_fail_on_change(tmp_path):
    other = labels_copy(tmp_path)
    edit_policy(other, review_band={"low": 0.0, "high": 1.0})
    args = ["policy", "diff", "--against", str(other), "--on", str(items_file(tmp_path)), "--rules-only"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "2 of 3 items" in r.stdout and "hold_for_review" in r.stdout and "isis" in r.stdout and "clean" not in r.stdout
    assert runner.invoke(app, [*args, "--fail-on-change"]).exit_code == 2


def test_diff_of_identical_trees_changes_nothing_and_skips_bad_lines(tmp_path):
    same = labels_copy(tmp_path)
    path = items_file(tmp_path, extra_lines=(b"not json", b'{"type": "podcast"}'))
    r = runner.invoke(app, ["policy", "diff", "--against", str(same), "--on", str(path), "--rules-only", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n"] == 3 and out["changed"] == 0 and [e["line"] for e in out["errors"]] == [4, 5]
    assert out["current_policy_version"] == out["other_policy_version"]
    r = runner.invoke(app, ["policy", "diff", "--against", str(same), "--on", str(path), "--rules-only"])
    assert "no item changes" in r.stdout and "skipped" in r.output


def test_diff_refuses_a_broken_candidate(tmp_path):
    other = labels_copy(tmp_path)
    (other / "publishers" / "default.json").unlink()
    r = runner.invoke(app, ["policy", "diff", "--against", str(other), "--on", str(items_file(tmp_path)), "--rules-only"])
    assert r.exit_code == 1 and "default.json is required" in r.output


@pytest.mark.slow
def test_sighup_reloads_the_policy_without_failing_a_request(tmp_path):
    root = labels_copy(tmp_path)
    env = server_env(tmp_path / "data", MODLABEL_POLICY_DIR=str(root))
    auth = {"Authorization": f"Bearer {create_key(data_dir=tmp_path / 'data')}"}
    log_path = tmp_path / "server.log"
    results: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def hammer(base: str, worker: int) -> None:
        with httpx.Client(base_url=base, timeout=10, headers=auth) as c:
            i = 0
            while not stop.is_set() and i < 2000:
                i += 1
                try:
                    r = c.post("/v1/moderate", json={**ITEMS[i % 3], "id": None})
                    results.append((time.monotonic(), r.status_code, r.json().get("policy_version")))
                except httpx.HTTPError as exc:
                    results.append((time.monotonic(), 0, repr(exc)))

    with live_server(env, log_path=log_path) as (base, proc):
        old = httpx.post(f"{base}/v1/moderate", json=ITEMS[0], headers=auth).json()["policy_version"]
        threads = [threading.Thread(target=hammer, args=(base, w)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        edit_policy(root, version="policy-v9")
        proc.send_signal(signal.SIGHUP)
        sent = time.monotonic()
        deadline = sent + 15
        new = old
        while time.monotonic() < deadline and new == old:
            time.sleep(0.05)
            new = httpx.post(f"{base}/v1/moderate", json=ITEMS[1], headers=auth).json()["policy_version"]
        switched = time.monotonic()
        time.sleep(0.5)  # keep requests flowing after the switch
        edit_policy(root, thresholds={"graphic_violence": 7})  # a broken tree: the reload fails, the old one stays
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        assert proc.poll() is None, "SIGHUP must not stop the server"
        after_bad = httpx.post(f"{base}/v1/moderate?token=CANARY-QUERY", json={**ITEMS[0], "body": "CANARY-BODY " + ITEMS[0]["body"]},
                               headers=auth).json()["policy_version"]
        metrics = httpx.get(f"{base}/metrics").text
    assert old.startswith("policy-v1") and new.startswith("policy-v9+"), (old, new)
    assert after_bad == new
    failures = [r for r in results if r[1] != 200]
    assert not failures, failures[:5]
    assert len(results) > 20
    versions_seen = {v for _, _, v in results}
    assert versions_seen <= {old, new} and new in versions_seen
    assert all(v == new for t, _, v in results if t > switched + 0.2)
    assert 'modlabel_policy_reloads_total{result="ok"} 1.0' in metrics
    assert 'modlabel_policy_reloads_total{result="error"} 1.0' in metrics
    log_text = log_path.read_text()
    log_lines = [json.loads(line) for line in log_text.splitlines() if line.strip()]  # every line is JSON
    assert "CANARY" not in log_text and auth["Authorization"].split()[1] not in log_text and not any(line["logger"] == "uvicorn.access" for line in log_lines)
    assert sum(line["logger"] == "modlabel.access" for line in log_lines) >= len(results)
    assert any(line["event"] == "policy reloaded" and line["policy_version"] == new for line in log_lines)
    assert any(line["event"].startswith("policy reload failed") and "v1.json" in line["error"] for line in log_lines)


@pytest.mark.slow
def test_sighup_to_the_supervisor_of_several_workers_replaces_them_without_failing_a_request(tmp_path):
    """With 2 workers, uvicorn's supervisor answers SIGHUP by starting new workers before retiring the old ones.

    uvicorn gives a new worker ``timeout_worker_healthcheck`` (default 5 s) to come up,
    else it keeps the old worker and aborts the restart; a worker's start (spawn and
    imports) takes 3-5 s on this machine, so the server here runs with 60 s, the
    value `modlabel serve` should pass.
    """
    root = labels_copy(tmp_path)
    env = server_env(tmp_path / "data", MODLABEL_POLICY_DIR=str(root))
    auth = {"Authorization": f"Bearer {create_key(data_dir=tmp_path / 'data')}"}
    results: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def hammer(base: str) -> None:
        # A retiring worker finishes the requests it has, then closes its idle keep-alive
        # connections; a client that reuses one at that instant sees a reset (ordinary HTTP:
        # clients retry on a closed idle connection). Each request here opens its own
        # connection, so what is measured is whether any request in flight is dropped.
        with httpx.Client(base_url=base, timeout=10, headers={**auth, "Connection": "close"}) as c:
            for _ in range(5000):
                if stop.is_set():
                    return
                try:
                    r = c.post("/v1/moderate", json=ITEMS[0])
                    results.append((r.status_code, r.json().get("policy_version")))
                except httpx.HTTPError as exc:
                    results.append((0, repr(exc)))
                time.sleep(0.01)  # steady traffic that leaves CPU for the new workers' start (uvicorn waits 5 s for each)

    log_path = tmp_path / "server.log"
    with live_server(env, workers=2, log_path=log_path, uvicorn_options={"timeout_worker_healthcheck": 60}) as (base, proc):
        old = httpx.post(f"{base}/v1/moderate", json=ITEMS[0], headers=auth).json()["policy_version"]
        threads = [threading.Thread(target=hammer, args=(base,)) for _ in range(2)]
        for t in threads:
            t.start()
        before = workers(proc.pid)
        edit_policy(root, version="policy-v9")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (len(workers(proc.pid)) == 2 and not workers(proc.pid) & before):
            assert "aborting the restart" not in log_path.read_text(), "a new worker was not ready in time"
            time.sleep(0.2)
        replaced = len(results)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        new = httpx.post(f"{base}/v1/moderate", json=ITEMS[0], headers=auth).json()["policy_version"]
    assert len(before) == 2 and new.startswith("policy-v9+")
    assert not [r for r in results if r[0] != 200]
    assert {v for _, v in results} == {old, new} and {v for _, v in results[replaced:]} == {new}


def workers(pid: int) -> set[int]:
    """The worker processes uvicorn's supervisor ``pid`` spawned (Linux /proc; not multiprocessing's resource tracker)."""
    children = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children |= {int(c) for c in (task / "children").read_text().split()}
    out = set()
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            out.add(child)
    return out

