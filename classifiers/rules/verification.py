"""Verification cues: material or claims whose authenticity was not confirmed.

Strong cues ("could not be independently verified", "purportedly") label on
their own; weak ones ("appears to show", "circulating online", "allegedly")
need company in the same sentence. A sentence that says the material *was*
verified cancels its weak cues.

Writers put doubt in many more words than a phrase list holds ("whose provenance
we could not establish", "nothing in the images established when they were
filmed", "neither account could be checked"). ``doubts`` composes it: a negation
a few words before a verb of checking, in a sentence that (or whose predecessor)
names material or a claim. Without material nearby ("investigators have not determined the
motive") there is no doubt about authenticity. The material is not tied to the verb: "The BBC
verified the video. Officials have not confirmed the toll." labels; requiring the next sentence
to point back ("it", "where", "when") lost more than it saved on every set (blind_3's unverified
0.916 -> 0.889 rules-only), and on AG News it added no false positive.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from classifiers.rules.matcher import Hit

THRESHOLD = 0.8
DOUBT_KEY = "doubt"
DOUBT_WEIGHT = 0.9
DOUBT_GAP = 4  # words at most between the negation and the verb ("neither side's account could be checked")


def doubts(kinds: dict[str, list[Hit]], material_near: bool) -> list[Hit]:
    """Composed doubt in one sentence, as hits of kind ``unverified`` keyed ``doubt``.

    ``material_near``: the sentence or the one before it names material or a claim."""
    if not material_near:
        return []
    out = [Hit("unverified", None, DOUBT_KEY, h.start, h.end, h.word, h.sentence, h.wend)
           for h in kinds.get("doubt_phrases", ())]
    negators = kinds.get("doubt_negators")
    if negators:
        # for each verb, the first negation (in text order) that ends at most DOUBT_GAP words before it,
        # found by bisection so a sentence of thousands of cues stays near-linear
        order = sorted(range(len(negators)), key=lambda i: negators[i].wend)
        wends = [negators[i].wend for i in order]
        for verb in kinds.get("doubt_verbs", ()):
            lo = bisect_left(wends, verb.word - DOUBT_GAP)
            hi = bisect_right(wends, verb.word)
            if lo < hi:
                neg = negators[min(order[lo:hi])]
                out.append(Hit("unverified", None, DOUBT_KEY, neg.start, verb.end, neg.word, verb.sentence, verb.wend))
    return out


def assess(hits: list[Hit], weights: dict[str, float], kinds: dict[str, list[Hit]] | None = None,
           extra: list[Hit] | None = None) -> tuple[float, list[Hit]]:
    """``kinds``: the same hits grouped by kind, when the caller has them; ``extra``: composed doubts."""
    if kinds is None:
        cues = [h for h in hits if h.kind == "unverified"]
        negated = any(h.kind == "verified_negators" for h in hits)
    else:
        cues = list(kinds.get("unverified", ()))
        negated = "verified_negators" in kinds
    if extra:
        # a strong phrase cue ("not been independently verified") keeps its own weight over a doubt composed across it
        strong = [c for c in cues if weights[c.key] >= DOUBT_WEIGHT]
        cues.extend(d for d in extra if not any(c.start < d.end and d.start < c.end for c in strong))
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
        w = DOUBT_WEIGHT if h.key == DOUBT_KEY else weights[h.key]
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
