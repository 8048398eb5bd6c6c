"""``modlabel report``: counts over a ``modlabel scan`` output, as tables and bar charts.

Four dimensions are counted: decision, label, graphic-violence severity and
extremist actor. Lines that carry an ``error`` (items the scan could not
moderate) and lines that are not JSON are counted apart.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

__all__ = ["DIMENSIONS", "Report", "plot_report", "print_report", "read_report"]

DIMENSIONS = ("decision", "label", "severity", "actor")
DECISION_ORDER = ("publish", "publish_with_disclaimers", "hold_for_review", "block")


@dataclass
class Report:
    """Counts per dimension over one results file."""

    source: Path
    results: int = 0
    errors: int = 0
    unreadable: int = 0
    counts: dict[str, Counter] = field(default_factory=lambda: {d: Counter() for d in DIMENSIONS})

    def rows(self, dimension: str) -> list[tuple[str, int]]:
        """(value, count), decisions in their natural order, other dimensions most common first."""
        counter = self.counts[dimension]
        if dimension == "decision":
            known = [(d, counter[d]) for d in DECISION_ORDER if counter[d]]
            return known + sorted((k, v) for k, v in counter.items() if k not in DECISION_ORDER)
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))

    def to_dict(self) -> dict:
        return {"source": str(self.source), "results": self.results, "errors": self.errors,
                "unreadable": self.unreadable, **{d: dict(self.rows(d)) for d in DIMENSIONS}}

    def add(self, result: dict) -> None:
        if "error" in result:
            self.errors += 1
            return
        self.results += 1
        self.counts["decision"][result.get("decision", "unknown")] += 1
        for lab in result.get("labels", ()):
            self.counts["label"][lab["name"]] += 1
            if lab.get("severity"):
                self.counts["severity"][lab["severity"]] += 1
            for actor in lab.get("actors") or ():
                self.counts["actor"][actor] += 1


def read_report(path: Path) -> Report:
    """Count one JSON Lines file of results (``modlabel scan`` output, or /v1/moderate answers)."""
    report = Report(path)
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                result = orjson.loads(line)
            except orjson.JSONDecodeError:
                report.unreadable += 1
                continue
            if isinstance(result, dict):
                report.add(result)
            else:
                report.unreadable += 1
    return report


def print_report(report: Report, console: Console) -> None:
    """One rich table per dimension, share of results beside each count."""
    summary = f"{report.results} moderated, {report.errors} failed"
    if report.unreadable:
        summary += f", {report.unreadable} unreadable line(s)"
    console.print(f"[bold]{report.source}[/bold]: {summary}", soft_wrap=True, highlight=False)
    for dimension in DIMENSIONS:
        table = Table(title=f"by {dimension}")
        table.add_column(dimension)
        table.add_column("count", justify="right")
        table.add_column("% of results", justify="right")
        rows = report.rows(dimension)
        for value, count in rows:
            share = 100 * count / report.results if report.results else 0.0
            table.add_row(value, str(count), f"{share:.1f}")
        if not rows:
            table.add_row("(none)", "0", "0.0")
        console.print(table)


def plot_report(report: Report, out: Path, *, top: int = 20) -> list[Path]:
    """A bar chart (PNG) per dimension with at least one count; the ``top`` values of each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for dimension in DIMENSIONS:
        rows = report.rows(dimension)[:top]
        if not rows:
            continue
        names, counts = zip(*rows)
        fig, ax = plt.subplots(figsize=(7, 1.2 + 0.4 * len(rows)))
        bars = ax.barh(range(len(rows)), counts, color="#4C72B0")
        ax.bar_label(bars, padding=2)
        ax.set_yticks(range(len(rows)), names)
        ax.invert_yaxis()  # most common on top
        ax.set(xlabel="count", title=f"{report.source.name}: by {dimension} ({report.results} results)")
        ax.margins(x=0.12)
        fig.tight_layout()
        path = out / f"{dimension}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
