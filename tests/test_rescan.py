"""modlabel rescan: stored items re-moderated under a new policy; changes recorded with callbacks queued."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from labels.policy import LABELS_DIR, load_policy_set
from service.app import create_app
from service.db import OutboxMessage
from service.rescan import rescan
from service.services import Services

PUB = "example-news"
ITEMS = [
    {"id": "r-1", "publisher": PUB, "body": "Photos show pools of blood on the road after the airstrike."},
    {"id": "r-2", "publisher": PUB, "body": "The council approved the new library budget on Monday."},
]


def strict_policy(tmp_path: Path) -> Path:
    """A copy of the labels tree whose review band covers every confidence: every label goes to review."""
    root = tmp_path / "labels"
    shutil.copytree(LABELS_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    pol = root / "policies" / "v1.json"
    data = json.loads(pol.read_text())
    data["version"] = "policy-strict"
    data["review_band"] = {"low": 0.0, "high": 1.0}
    pol.write_text(json.dumps(data, indent=2))
    return root


def test_rescan_records_changed_decisions_and_queues_callbacks(storage, make_settings, auth, tmp_path):
    settings = make_settings(callback_urls={PUB: "http://127.0.0.1:9/hook"})
    with TestClient(create_app(settings)) as client:
        for item in ITEMS:
            assert client.post("/v1/moderate", json=item, headers=auth("cms", PUB)).status_code == 200
        before = client.get(f"/v1/items/{PUB}/r-1", headers=auth()).json()
    assert before["decision"] == "publish_with_disclaimers"

    strict = Services(make_settings(policy_dir=strict_policy(tmp_path), callback_urls={PUB: "http://127.0.0.1:9/hook"}),)
    assert strict.moderator.policy_set.policy.version == "policy-strict"
    report = rescan(strict.storage, strict.moderator, publisher=PUB)
    assert report.scanned == 2 and report.changed == 1
    assert report.transitions == {("publish_with_disclaimers", "hold_for_review"): 1}

    with TestClient(create_app(settings)) as client:
        after = client.get(f"/v1/items/{PUB}/r-1", headers=auth()).json()
        untouched = client.get(f"/v1/items/{PUB}/r-2", headers=auth()).json()
    assert after["decision"] == "hold_for_review"
    assert untouched["decision"] == "publish"
    with storage.session() as session:
        queued = session.exec(select(OutboxMessage)).all()
    assert len(queued) == 1

    # a second run finds nothing new to record
    again = rescan(strict.storage, strict.moderator, publisher=PUB)
    assert again.changed == 0
