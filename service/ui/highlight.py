"""Split a field's text into segments, marking the spans that labels' evidence points at (rendered as <mark>)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    text: str
    labels: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


def evidence_by_field(labels: list[dict]) -> dict[str, list[tuple[int, int, str, str]]]:
    """field name -> [(start, end, label, source)] from every label's evidence."""
    out: dict[str, list[tuple[int, int, str, str]]] = {}
    for lab in labels:
        for ev in lab.get("evidence") or []:
            out.setdefault(ev["field"], []).append((int(ev["start"]), int(ev["end"]), lab["name"], str(ev.get("source", ""))))
    return out


def segments(text: str, spans: list[tuple[int, int, str, str]]) -> list[Segment]:
    """The text cut at every span boundary; overlapping spans carry all their labels."""
    n = len(text)
    spans = [(max(0, s), min(n, e), lab, src) for s, e, lab, src in spans if 0 <= s < e and s < n]
    if not spans:
        return [Segment(text)] if text else []
    cuts = sorted({0, n, *(s for s, _, _, _ in spans), *(e for _, e, _, _ in spans)})
    out: list[Segment] = []
    for a, b in zip(cuts, cuts[1:]):
        covering = [sp for sp in spans if sp[0] <= a and sp[1] >= b]
        labels = tuple(sorted({sp[2] for sp in covering}))
        sources = tuple(sorted({sp[3] for sp in covering if sp[3]}))
        if out and out[-1].labels == labels and out[-1].sources == sources:
            out[-1] = Segment(out[-1].text + text[a:b], labels, sources)
        else:
            out.append(Segment(text[a:b], labels, sources))
    return out
