"""Pytest plugin: every result any test produces has evidence that points at its text.

Loaded with ``-p tests.evidence_guard`` (pyproject addopts). It wraps
``Moderator.finish`` so that each evidence item satisfies
``field_text[start:end] == evidence.text`` for the document it came from.
"""

from __future__ import annotations

import pytest

CHECKED = {"results": 0, "evidence": 0}


@pytest.fixture(autouse=True)
def _check_evidence_offsets(monkeypatch):
    from classifiers.pipeline import Moderator

    original = Moderator.finish

    def finish(self, item, doc, labels, **kwargs):
        fields = doc.by_name
        for lab in labels:
            for ev in lab["evidence"]:
                f = fields.get(ev["field"])
                if f is None:
                    continue  # hash-bank evidence names a bank entry, not a text span
                assert 0 <= ev["start"] <= ev["end"] <= len(f.text), ev
                assert f.text[ev["start"]:ev["end"]] == ev["text"], (ev, f.text[ev["start"]:ev["end"]])
                CHECKED["evidence"] += 1
        CHECKED["results"] += 1
        return original(self, item, doc, labels, **kwargs)

    monkeypatch.setattr(Moderator, "finish", finish)
    yield


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"evidence offsets checked: {CHECKED['evidence']} spans in {CHECKED['results']} results")
