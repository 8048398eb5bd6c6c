"""Policy as configuration: validate a labels tree, and dry-run a new one against real items.

``check_tree`` wraps ``labels.policy.load_policy_set`` (which names file and line on
error). ``diff_policies`` moderates every item twice with one set of loaded stages,
once per policy tree, and keeps the items whose decision or labels change: what a
deploy of the other tree would do to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from labels.policy import PolicySet, load_policy_set

__all__ = ["ItemChange", "PolicyDiff", "check_tree", "diff_policies", "label_keys", "read_items"]


def check_tree(root: Path | None) -> PolicySet:
    """The loaded tree; raises ``labels.policy.PolicyError`` ("file:line: message")."""
    return load_policy_set(root)


def label_keys(result: dict) -> list[str]:
    """A result's labels as comparable strings: name, severity and actors (``graphic_violence:extreme``)."""
    keys = []
    for lab in result.get("labels", ()):
        key = lab["name"]
        if lab.get("severity"):
            key += f":{lab['severity']}"
        if lab.get("actors"):
            key += f"[{', '.join(sorted(lab['actors']))}]"
        keys.append(key)
    return sorted(keys)


@dataclass
class ItemChange:
    """One item whose outcome differs between the two trees."""

    item_id: str | None
    line: int
    decision_before: str
    decision_after: str
    labels_before: list[str]
    labels_after: list[str]

    @property
    def added(self) -> list[str]:
        return [k for k in self.labels_after if k not in self.labels_before]

    @property
    def removed(self) -> list[str]:
        return [k for k in self.labels_before if k not in self.labels_after]

    def to_dict(self) -> dict:
        return {**asdict(self), "added": self.added, "removed": self.removed}


@dataclass
class PolicyDiff:
    """Summary of a dry run: versions, counts, the changed items and lines that could not be read."""

    current_version: str
    other_version: str
    n: int = 0
    changes: list[ItemChange] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"current_policy_version": self.current_version, "other_policy_version": self.other_version,
                "n": self.n, "changed": len(self.changes), "items": [c.to_dict() for c in self.changes],
                "errors": self.errors}


def read_items(path: Path, validate) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, validated item or None, error or None) for each non-blank line of a JSON Lines file."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = orjson.loads(line)
                if not isinstance(raw, dict):
                    raise ValueError("not a JSON object")
                yield number, validate(raw, f"{path}:{number}"), None
            except Exception as exc:  # noqa: BLE001 (reported per line; the run goes on)
                message = str(exc)
                yield number, None, message if message.startswith(f"{path}:") else f"{path}:{number}: {message}"


def diff_policies(moderator, current: PolicySet, other: PolicySet, items: Iterable[tuple[int, dict | None, str | None]]) -> PolicyDiff:
    """Moderate each item under ``current`` and ``other``; keep those whose decision or labels differ."""
    diff = PolicyDiff(current.version, other.version)
    for number, item, error in items:
        if item is None:
            diff.errors.append({"line": number, "error": error})
            continue
        diff.n += 1
        before = moderator.moderate(item, policy_set=current)
        after = moderator.moderate(item, policy_set=other)
        lb, la = label_keys(before), label_keys(after)
        if before["decision"] != after["decision"] or lb != la:
            diff.changes.append(ItemChange(item.get("id"), number, before["decision"], after["decision"], lb, la))
    return diff
