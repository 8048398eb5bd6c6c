"""Does a speed change leave every answer as it was? Snapshot the pipeline's output, then compare.

    python -m bench.equivalence --write /tmp/before.jsonl     # on the tree before the change
    python -m bench.equivalence --check /tmp/before.jsonl     # after: exit 1 and the first diffs if any differ

The items: every corpus, dev and calibration item (the sealed blind set is left out),
varied benchmark articles of 100-5,000 words, and the first 3,000 AG News rows when
``../shared/data`` is present. Each answer is compared whole (labels, confidences,
evidence offsets, disclaimers, decision).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import orjson

from bench.false_positives import DATA as AG_NEWS
from bench.false_positives import rows

REPO = Path(__file__).resolve().parent.parent
SOURCES = ["data/corpus/*.jsonl", "data/eval/dev.jsonl", "data/calibration/*.jsonl"]


def items() -> list[tuple[str, dict]]:
    from bench.scaling import news_item

    out: list[tuple[str, dict]] = []
    for pattern in SOURCES:
        for path in sorted(REPO.glob(pattern)):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
                if line.strip():
                    row = orjson.loads(line)
                    out.append((f"{path.name}:{n}", row.get("item", row)))
    rng = random.Random(7)
    for n in range(200):
        out.append((f"varied:{n}", news_item(rng, rng.choice((100, 400, 800, 1500, 5000)))))
    if AG_NEWS.exists():
        for n, (_, title, desc) in enumerate(rows(AG_NEWS)):
            if n >= 3000:
                break
            out.append((f"ag:{n}", {"title": title, "body": desc}))
    return out


def answers() -> list[bytes]:
    from classifiers.pipeline import Moderator
    from service.config import Settings
    from service.services import load_classifier

    mod = Moderator(classifier=load_classifier(Settings()))
    return [orjson.dumps({"key": key, "answer": mod.moderate(item)}, option=orjson.OPT_SORT_KEYS) for key, item in items()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="store the answers here")
    group.add_argument("--check", type=Path, help="compare with answers stored by --write")
    args = ap.parse_args(argv)
    now = answers()
    if args.write:
        args.write.write_bytes(b"\n".join(now) + b"\n")
        print(f"wrote {len(now)} answers to {args.write}")
        return 0
    before = args.check.read_bytes().splitlines()
    if len(before) != len(now):
        print(f"different item count: {len(before)} stored, {len(now)} now")
        return 1
    diffs = [(a, b) for a, b in zip(before, now) if a != b]
    for a, b in diffs[:5]:
        print("before:", a.decode()[:1500], "\nnow:   ", b.decode()[:1500], "\n")
    print(f"{len(now) - len(diffs)}/{len(now)} answers identical")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
