"""Scaling: time per character and peak memory for bodies from 1,000 to 1,000,000 characters.

    python -m bench.scaling [--rules-only]

Bodies are news-like and varied: sentences drawn (seeded) from the training
corpus in ``data/corpus/`` (our own writing: everyday news, attribution,
graphic, figurative and verification items), grouped in paragraphs, never
one sentence repeated. Time per character must stay within 2x from the
smallest to the largest body (linear), and peak traced memory (tracemalloc, the
largest of one call per body) per character must not grow with the body. Also home of the text generator the other benchmarks use.
"""

from __future__ import annotations

import gc
import random
import re
import statistics
import sys
import time
import tracemalloc
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "corpus"
SIZES = (1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
TIME_BUDGET_S = 1.5  # per size, after the first call
_SPLIT = re.compile(r"(?<=[.!?])\s+")


# -- text ----------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _pool() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(sentences, titles) from data/corpus, deduplicated, in a stable order."""
    import orjson

    sentences: dict[str, None] = {}
    titles: dict[str, None] = {}
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            item = orjson.loads(line)
            if item.get("title"):
                titles[item["title"]] = None
            for s in _SPLIT.split(item.get("body") or ""):
                if len(s.split()) >= 4:
                    sentences[s.strip()] = None
    if len(sentences) < 100:
        raise RuntimeError(f"too few sentences in {CORPUS} to build varied text")
    return tuple(sentences), tuple(titles)


def news_body(rng: random.Random, *, words: int | None = None, chars: int | None = None) -> str:
    """Paragraphs of 2-6 random corpus sentences, until ``words`` words or exactly ``chars`` characters."""
    sentences, _ = _pool()
    paragraphs: list[str] = []
    n_words = n_chars = 0
    while (words is not None and n_words < words) or (chars is not None and n_chars < chars):
        para = " ".join(rng.choice(sentences) for _ in range(rng.randint(2, 6)))
        paragraphs.append(para)
        n_words += len(para.split())
        n_chars += len(para) + 2
    body = "\n\n".join(paragraphs)
    return body[:chars] if chars is not None else body


def news_item(rng: random.Random, words: int, *, media: bool | None = None) -> dict:
    """One article dict (no id): a corpus title, a body of about ``words`` words, sometimes a captioned image."""
    sentences, titles = _pool()
    item = {"publisher": "default", "type": "article", "title": rng.choice(titles), "body": news_body(rng, words=words)}
    if media if media is not None else rng.random() < 0.3:
        item["media"] = [{"id": "m1", "type": "image", "caption": rng.choice(sentences),
                          "credit": rng.choice(("Reuters", "AP Photo", "AFP via Getty Images", "Staff photographer"))}]
    return item


def varied_items(count: int, seed: int, words: tuple[int, int]) -> list[dict]:
    """``count`` items, body lengths drawn log-uniformly between words[0] and words[1]."""
    import math

    rng = random.Random(seed)
    lo, hi = math.log(words[0]), math.log(words[1])
    return [news_item(rng, int(math.exp(rng.uniform(lo, hi)))) for _ in range(count)]


def text_bytes(item: dict) -> int:
    """UTF-8 bytes of an item's article text: title, body, media captions, alt text and credits."""
    parts = [item.get("title") or "", item.get("body") or ""]
    for m in item.get("media") or ():
        parts += [m.get("caption") or "", m.get("alt_text") or "", m.get("credit") or ""]
    return sum(len(p.encode("utf-8")) for p in parts)


# -- measurement ---------------------------------------------------------------------------------

def measure_size(mod, chars: int, seed: int = 11) -> dict:
    """Seconds per call for bodies of ``chars`` characters, and the traced peak of one call.

    Small sizes average over several different bodies (content, not only length, sets the cost of a
    short text); repeats are bounded by a count and by TIME_BUDGET_S.
    """
    n_bodies = max(1, min(8, 30_000 // chars))
    items = [{"title": "Scaling benchmark", "body": news_body(random.Random(seed * 1_000_003 + chars * 31 + k), chars=chars)}
             for k in range(n_bodies)]
    for item in items:
        mod.moderate(item)  # first call: warm caches for this text
    rounds: list[float] = []
    deadline = time.perf_counter() + TIME_BUDGET_S
    while len(rounds) < 200 and (len(rounds) < 3 or time.perf_counter() < deadline):
        t = time.perf_counter()
        for item in items:
            mod.moderate(item)
        rounds.append((time.perf_counter() - t) / n_bodies)
    gc.collect()
    peak = 0
    tracemalloc.start()
    try:
        for item in items:  # the largest of the bodies' peaks: a body that gets labels also builds disclaimers
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            mod.moderate(item)
            peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
    return {"chars": len(items[0]["body"]), "bodies": n_bodies, "seconds": statistics.median(rounds), "runs": len(rounds),
            "peak_bytes": peak}


def run(rules_only: bool = False) -> dict:
    from classifiers.pipeline import Moderator
    from service.config import Settings
    from service.services import load_classifier

    mod = Moderator(classifier=None if rules_only else load_classifier(Settings()))
    mod.moderate({"title": "warm up", "body": news_body(random.Random(1), words=200)})
    rows = [measure_size(mod, n) for n in SIZES]
    for r in rows:
        r["us_per_kchar"] = r["seconds"] / r["chars"] * 1e6 * 1000
        r["peak_per_char"] = r["peak_bytes"] / r["chars"]
    per_char = [r["us_per_kchar"] for r in rows]
    ref = min(rows, key=lambda r: abs(r["chars"] - 10_000))
    # Marginal cost: time added per character above the smallest body (per-item fixed costs cancel out).
    first = rows[0]
    marginal = [(r["seconds"] - first["seconds"]) / (r["chars"] - first["chars"]) * 1e9 for r in rows[1:]]
    return {
        "stages": "rules" if rules_only else "full",
        "rows": rows,
        "time_ratio": max(per_char) / min(per_char),
        "marginal_ratio": max(marginal) / min(marginal) if min(marginal) > 0 else float("inf"),
        # memory growing faster than the body shows over the big sizes; below 10k chars some per-call arrays are
        # not built at all (about 100 B/char instead of 200), which is not growth: compare largest with 10k
        "peak_ratio": rows[-1]["peak_per_char"] / ref["peak_per_char"],
        "peak_ref_chars": ref["chars"],
        "peak_mb_max": max(r["peak_bytes"] for r in rows) / 2**20,
    }


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules-only", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.rules_only)
    print(f"{'body chars':>10} {'bodies':>6} {'runs':>5} {'ms/call':>9} {'us/1k chars':>12} {'peak MB':>8} {'peak B/char':>12}")
    for r in res["rows"]:
        print(f"{r['chars']:>10,} {r['bodies']:>6} {r['runs']:>5} {r['seconds'] * 1000:>9.2f} {r['us_per_kchar']:>12.1f} "
              f"{r['peak_bytes'] / 2**20:>8.1f} {r['peak_per_char']:>12.1f}")
    print(f"time per char max/min {res['time_ratio']:.2f}x (target <= 2x); marginal {res['marginal_ratio']:.2f}x; "
          f"peak per char, largest / {res['peak_ref_chars']:,} chars: {res['peak_ratio']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
