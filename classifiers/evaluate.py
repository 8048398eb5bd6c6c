"""Evaluation: per-label precision/recall/F1, severity and decision accuracy.

Reads the contract's evaluation format (JSON Lines with an ``expected`` object).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import orjson


def read_jsonl(path: Path | str) -> Iterator[dict]:
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON: {exc}") from exc


def predicted_view(result: dict) -> dict:
    """A result reduced to the evaluation file's ``expected`` shape."""
    labels = {lab["name"]: lab for lab in result["labels"]}
    ext = labels.get("extremist_source")
    gv = labels.get("graphic_violence")
    return {
        "extremist_source": ext is not None,
        "actors": sorted(ext.get("actors", [])) if ext else [],
        "graphic_violence": gv.get("severity", "graphic") if gv else "none",
        "unverified": "unverified" in labels,
        "decision": result["decision"],
    }


@dataclass
class Binary:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, truth: bool, pred: bool) -> None:
        if truth and pred:
            self.tp += 1
        elif pred:
            self.fp += 1
        elif truth:
            self.fn += 1
        else:
            self.tn += 1

    def as_dict(self) -> dict:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


def score(pairs: Iterable[tuple[dict, dict]]) -> dict:
    """Metrics over (expected, predicted) pairs; keys follow the contract (``extremist_source.f1`` ...)."""
    ext, gv, unv = Binary(), Binary(), Binary()
    sev_right = sev_n = 0
    three_right = 0
    dec_right = 0
    actor_right = actor_n = 0
    n = 0
    confusion: Counter = Counter()
    for exp, pred in pairs:
        n += 1
        ext.add(bool(exp.get("extremist_source")), pred["extremist_source"])
        eg = exp.get("graphic_violence", "none")
        gv.add(eg != "none", pred["graphic_violence"] != "none")
        if eg != "none" and pred["graphic_violence"] != "none":
            sev_n += 1
            sev_right += eg == pred["graphic_violence"]
        three_right += eg == pred["graphic_violence"]
        unv.add(bool(exp.get("unverified")), pred["unverified"])
        dec_right += exp.get("decision") == pred["decision"]
        confusion[(exp.get("decision"), pred["decision"])] += 1
        if exp.get("extremist_source") and pred["extremist_source"]:
            actor_n += 1
            actor_right += sorted(exp.get("actors") or []) == pred["actors"]
    out: dict = {"n": n}
    for name, b in (("extremist_source", ext), ("graphic_violence", gv), ("unverified", unv)):
        for k, v in b.as_dict().items():
            out[f"{name}.{k}"] = v
    out["graphic_violence.severity_accuracy"] = round(sev_right / sev_n, 4) if sev_n else 0.0
    out["graphic_violence.accuracy_3class"] = round(three_right / n, 4) if n else 0.0
    out["extremist_source.actor_accuracy"] = round(actor_right / actor_n, 4) if actor_n else 0.0
    out["decision.accuracy"] = round(dec_right / n, 4) if n else 0.0
    out["decision.confusion"] = {f"{a}->{b}": c for (a, b), c in sorted(confusion.items(), key=lambda kv: str(kv[0]))}
    return out
