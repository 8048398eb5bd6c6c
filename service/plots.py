"""PNG plots for ``modlabel eval --plot``: precision-recall curves and confusion matrices."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix, precision_recall_curve  # noqa: E402

LABELS = ("extremist_source", "graphic_violence", "unverified")
DECISIONS = ("publish", "publish_with_disclaimers", "hold_for_review", "block")


def _truth(expected: dict, label: str) -> bool:
    if label == "graphic_violence":
        return expected.get("graphic_violence", "none") != "none"
    return bool(expected.get(label))


def _score(result: dict, label: str) -> float:
    for lab in result["labels"]:
        if lab["name"] == label:
            return lab["confidence"]
    return 0.0


def eval_plots(all_rows: dict[str, list], out: Path) -> list[Path]:
    """One PR figure per label (a curve per stage configuration) and a decision confusion matrix per configuration."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for label in LABELS:
        fig, ax = plt.subplots(figsize=(5, 4))
        for name, rows in all_rows.items():
            y = np.array([_truth(e, label) for e, _, _ in rows])
            s = np.array([_score(r, label) for _, _, r in rows])
            if y.any():
                p, r, _ = precision_recall_curve(y, s)
                ax.plot(r, p, label=name)
        ax.set(xlabel="recall", ylabel="precision", title=f"{label}", xlim=(0, 1.02), ylim=(0, 1.02))
        if ax.lines:
            ax.legend(loc="lower left")
        path = out / f"pr_{label}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    for name, rows in all_rows.items():
        truth = [e.get("decision", "publish") for e, _, _ in rows]
        pred = [p["decision"] for _, p, _ in rows]
        cm = confusion_matrix(truth, pred, labels=list(DECISIONS))
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        ax.imshow(cm, cmap="Blues")
        short = ["publish", "w/ discl.", "hold", "block"]
        ax.set_xticks(range(4), short)
        ax.set_yticks(range(4), short)
        ax.set(xlabel="predicted", ylabel="expected", title=f"decisions ({name})")
        for i in range(4):
            for j in range(4):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center")
        path = out / f"confusion_decision_{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
