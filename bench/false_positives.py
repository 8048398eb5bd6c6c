"""Flag rate per label per AG News class on real news (../shared/data/ag_news_test.csv).

    python -m bench.false_positives [--sample-world 25] [--stages combined|rules]

Prints the rate of each label for World, Sports, Business and Sci/Tech, and
optionally a seeded sample of flagged World items for hand checking.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "ag_news_test.csv"
CLASSES = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
TARGETS = {"extremist_source": 0.005, "graphic_violence": 0.01, "unverified": 0.01}


def rows(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        for cls, title, desc in csv.reader(fh):
            yield cls, title.replace("\\n", "\n"), desc.replace("\\n", "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sample-world", type=int, default=0)
    ap.add_argument("--stages", default="combined", choices=["combined", "rules"])
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"{DATA} is absent; nothing to measure")
        return 0
    from classifiers.pipeline import Moderator
    from service.config import Settings
    from service.services import load_classifier

    clf = None if args.stages == "rules" else load_classifier(Settings())
    mod = Moderator(classifier=clf)
    counts: dict[str, Counter] = {c: Counter() for c in CLASSES.values()}
    totals: Counter = Counter()
    flagged_world = []
    t0 = time.perf_counter()
    for cls, title, desc in rows(DATA):
        name = CLASSES[cls]
        totals[name] += 1
        result = mod.moderate({"title": title, "body": desc})
        for lab in result["labels"]:
            counts[name][lab["name"]] += 1
        if name == "World" and result["labels"]:
            flagged_world.append((title, desc, [(l["name"], l.get("severity"), l.get("actors")) for l in result["labels"]]))
    elapsed = time.perf_counter() - t0
    print(f"AG News test set, {sum(totals.values())} items, stages={args.stages}, {elapsed:.1f} s")
    print(f"{'class':<10} {'n':>5} " + " ".join(f"{l:>18}" for l in TARGETS))
    ok = True
    for name in CLASSES.values():
        cells = []
        for label, target in TARGETS.items():
            rate = counts[name][label] / totals[name]
            mark = ""
            if name != "World":
                mark = " ok" if rate <= target else " OVER"
                ok &= rate <= target
            cells.append(f"{rate * 100:>14.2f}%{mark:>3}")
        print(f"{name:<10} {totals[name]:>5} " + " ".join(cells))
    print("targets on Sports, Business, Sci/Tech: " + ", ".join(f"{k} <= {v * 100:g}%" for k, v in TARGETS.items()) + (" -> all met" if ok else " -> NOT met"))
    if args.sample_world:
        rng = random.Random(7)
        sample = rng.sample(flagged_world, min(args.sample_world, len(flagged_world)))
        print(f"\n{len(sample)} sampled World flags (of {len(flagged_world)}):")
        for i, (title, desc, labs) in enumerate(sample, 1):
            print(f"{i:>2}. {labs} | {title} | {desc[:240]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
