"""In-process pipeline latency: rules only versus the full pipeline, per article length.

    python -m bench.pipeline
"""

from __future__ import annotations

import statistics
import sys
import time

SENTENCES = [
    "The regional governor said the convoy reached the town on Tuesday after a week of delays.",
    "A new video purportedly released by the Islamic State shows the aftermath of airstrikes.",
    "Officials said three people died when the bus left the road near the border crossing.",
    "Markets rallied as investors welcomed the central bank's decision to hold rates.",
    "Witnesses described bodies lying in the street after the explosion tore through the market.",
    "The claim could not be independently verified, and the group's statement gave no details.",
]


def article(words: int) -> dict:
    body, n, i = [], 0, 0
    while n < words:
        s = SENTENCES[i % len(SENTENCES)]
        body.append(s)
        n += len(s.split())
        i += 1
    return {"title": "Benchmark article", "body": " ".join(body)}


def measure(mod, item, repeat: int) -> tuple[float, float, float]:
    for _ in range(20):
        mod.moderate(item)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        mod.moderate(item)
        times.append(time.perf_counter() - t)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[int(len(times) * 0.99) - 1]
    return 1 / p50, p50 * 1000, p99 * 1000


def main(argv=None) -> int:
    from classifiers.pipeline import Moderator
    from service.config import Settings
    from service.services import load_classifier

    import gc

    full = Moderator(classifier=load_classifier(Settings()))
    rules = Moderator(classifier=None, mode="rules")
    gc.collect()
    gc.freeze()  # as the service does after loading (service/main.py)
    print(f"{'article':<14} {'stages':<8} {'items/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for words, repeat in ((100, 2000), (800, 1000), (5000, 200)):
        item = article(words)
        for name, mod in (("rules", rules), ("full", full)):
            ips, p50, p99 = measure(mod, item, repeat)
            print(f"{words:>5} words    {name:<8} {ips:>9.0f} {p50:>8.3f} {p99:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
