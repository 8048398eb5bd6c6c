"""Verification cues: material or claims whose authenticity was not confirmed.

Strong cues ("could not be independently verified", "purportedly") label on
their own; weak ones ("appears to show", "circulating online", "allegedly")
need company in the same sentence. A sentence that says the material *was*
verified cancels its weak cues.
"""

from __future__ import annotations

from classifiers.rules.matcher import Hit

THRESHOLD = 0.8


def assess(hits: list[Hit], weights: dict[str, float], kinds: dict[str, list[Hit]] | None = None) -> tuple[float, list[Hit]]:
    """``kinds``: the same hits grouped by kind, when the caller has them."""
    if kinds is None:
        cues = [h for h in hits if h.kind == "unverified"]
        negated = any(h.kind == "verified_negators" for h in hits)
    else:
        cues = list(kinds.get("unverified", ()))
        negated = "verified_negators" in kinds
    if not cues:
        return 0.0, []
    # keep the longest cue at each place
    cues.sort(key=lambda h: (h.start, -(h.end - h.start)))
    kept: list[Hit] = []
    for h in cues:
        if kept and h.start < kept[-1].end:
            continue
        kept.append(h)
    score = 0.0
    seen: set[str] = set()
    used = []
    for h in kept:
        w = weights[h.key]
        if negated and w < 0.9:
            continue
        if h.key in seen:
            continue
        seen.add(h.key)
        score += w
        used.append(h)
    return score, used


def confidence(score: float) -> float:
    return round(min(0.97, 0.55 + 0.3 * score), 4)
