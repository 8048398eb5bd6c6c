"""Graphic cues with severity, depiction context and figurative-use exclusions.

A sentence's score adds the weights of its distinct cues. Depiction (a video
that shows, bodies that lie, a caption under a photo) doubles it; a bare count
("three people died") carries almost no weight. A cue inside a figurative phrase
("killer app", "executed the plan"), or a cue that is often figurative in a
sentence about markets, sport or film, does not count.
"""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.rules.matcher import Hit

GRAPHIC_THRESHOLD = 0.9
EXTREME_THRESHOLD = 0.9
DEPICTION_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class GraphicFinding:
    severity: str
    score: float
    cues: tuple[Hit, ...]


def _inside(hit: Hit, spans: list[Hit]) -> bool:
    return any(f.start <= hit.start and hit.end <= f.end for f in spans)


def assess(hits: list[Hit], weights: dict[str, tuple[str, float]], cues: dict, depicted_field: bool,
           kinds: dict[str, list[Hit]] | None = None) -> GraphicFinding | None:
    """Graphic finding for one sentence, or None. ``kinds``: the same hits grouped by kind, when the caller has them."""
    if kinds is None:
        kinds = {}
        for h in hits:
            kinds.setdefault(h.kind, []).append(h)
    graphic = kinds.get("graphic")
    if not graphic:
        return None
    figurative = kinds.get("figurative")
    domain = "figurative_domains" in kinds
    capable = cues["_figurative_capable"]
    needs_depiction = cues["_extreme_needs_depiction"]
    depicted = depicted_field or "depiction" in kinds
    factor = DEPICTION_FACTOR if depicted else 1.0

    kept: dict[str, Hit] = {}
    for h in graphic:
        if figurative and _inside(h, figurative):
            continue
        if domain and h.key in capable:
            continue
        # a shorter cue inside a longer kept one ("blood" in "pool of blood") adds nothing
        kept.setdefault(h.key, h)
    if not kept:
        return None
    keys = list(kept)
    if len(keys) == 1:
        distinct = keys
    else:
        spans = [(k, h.start, h.end) for k, h in kept.items()]
        distinct = []
        for k, start, end in spans:
            for o, o_start, o_end in spans:
                if o_start <= start and end <= o_end and o != k:
                    break
            else:
                distinct.append(k)

    extreme_score = 0.0
    graphic_score = 0.0
    used: list[Hit] = []
    for k in distinct:
        severity, weight = weights[k]
        if severity == "extreme":
            if k in needs_depiction and not depicted:
                continue
            extreme_score = max(extreme_score, weight * factor)
            used.append(kept[k])
        else:
            graphic_score += weight
            used.append(kept[k])
    graphic_score *= factor
    if extreme_score >= EXTREME_THRESHOLD:
        return GraphicFinding("extreme", extreme_score, tuple(used))
    total = graphic_score + extreme_score * 0.5
    if total >= GRAPHIC_THRESHOLD:
        return GraphicFinding("graphic", total, tuple(used))
    return None


def confidence(score: float) -> float:
    return round(min(0.97, 0.6 + 0.2 * score), 4)
