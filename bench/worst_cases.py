"""Worst-case inputs: each must be answered within 2 s with bounded memory.

    python -m bench.worst_cases

2 MB of one repeated character, 100,000 nested <div>, a 50,000-word body of
trigger words; through the in-process pipeline (what /v1/moderate runs).
"""

from __future__ import annotations

import resource
import sys
import time

TRIGGERS = ("ISIS released a video purportedly showing beheading bodies blood Amaq "
            "could not be independently verified execution gore al-Shabaab claimed responsibility ")


def cases() -> list[tuple[str, dict]]:
    nested = "<div>" * 100_000 + "ISIS video shows bodies" + "</div>" * 100_000  # refused: deeper than 512
    words = TRIGGERS.split()
    trigger_body = " ".join(words[i % len(words)] for i in range(50_000))
    return [
        ("2 MB of 'a'", {"body": "a" * (2 * 1024 * 1024 - 64), "body_format": "text"}),
        ("2 MB of '.'", {"body": "." * (2 * 1024 * 1024 - 64), "body_format": "text"}),
        ("100,000 nested <div>", {"body": nested, "body_format": "html"}),
        ("50,000 trigger words", {"body": trigger_body, "body_format": "text"}),
    ]


def main(argv=None) -> int:
    from classifiers.document import DocumentError
    from classifiers.pipeline import Moderator
    from service.config import Settings
    from service.services import load_classifier

    mod = Moderator(classifier=load_classifier(Settings()))
    mod.moderate({"body": "warm up"})
    print(f"{'case':<24} {'seconds':>8} {'labels':>7} {'peak RSS MB':>12}")
    worst = 0.0
    for name, item in cases():
        t = time.perf_counter()
        try:
            result = mod.moderate(item)
        except DocumentError as exc:  # the service answers 422 naming the field
            result = {"labels": [], "refused": str(exc)}
        dt = time.perf_counter() - t
        worst = max(worst, dt)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        note = f"  (422: {result['refused']})" if "refused" in result else ""
        print(f"{name:<24} {dt:>8.3f} {len(result['labels']):>7} {rss:>12.0f}{note}")
    print(f"worst {worst:.3f} s (target <= 2 s): {'ok' if worst <= 2 else 'OVER'}")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
