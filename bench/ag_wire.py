"""Accuracy on real wire news: AG News rows hand-labeled under the policy, scored stage by stage.

    python -m bench.ag_wire [--labels data/eval/ag_news_labels_2.jsonl] [--out /tmp/ag_news_eval.jsonl] [--classes 1]

``data/eval/ag_news_labels*.jsonl`` hold only row numbers and labels (two annotators, different
rows: the first file was read while tuning the rules, the second is held out) (AG News may not be
redistributed, so its text stays in ../shared/data). This joins the two into an evaluation
file (``--out``, outside the repository) and prints ``modlabel eval``'s table for rules,
classifier and combined. Nothing here is used for training or for choosing thresholds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from rich.console import Console

from bench.false_positives import DATA, rows

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "data" / "eval" / "ag_news_labels_2.jsonl"


def build(out: Path, classes: set[int] | None, labels_file: Path = LABELS) -> int:
    """Write the joined evaluation file; the number of items."""
    labels = {}
    for line in labels_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = orjson.loads(line)
            if classes is None or row["ag_class"] in classes:
                labels[row["ag_row"]] = row
    lines = []
    for n, (cls, title, desc) in enumerate(rows(DATA)):
        if n in labels:
            if int(cls) != labels[n]["ag_class"]:
                raise SystemExit(f"{labels_file}: row {n} is class {cls} in {DATA}, not {labels[n]['ag_class']}: a different file?")
            item = {"id": f"ag-{n}", "publisher": "default", "type": "article", "title": title, "body": desc,
                    "expected": labels[n]["expected"]}
            lines.append(orjson.dumps(item))
    out.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", type=Path, default=LABELS, help="row labels (default: the held-out second set)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/ag_news_eval.jsonl"))
    ap.add_argument("--classes", default="1,2,3,4", help="AG classes to include (1 World, 2 Sports, 3 Business, 4 Sci/Tech)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not DATA.exists() or not args.labels.exists():
        print(f"needs {DATA} and {args.labels}; nothing to measure")
        return 0
    n = build(args.out, {int(c) for c in args.classes.split(",")}, args.labels)
    print(f"{n} labeled AG News rows -> {args.out}")
    from service.evaluation import run_eval

    run_eval(args.out, as_json=args.json, stages="all", plot=None, console=Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
