"""Outlet handles and channel-name patterns for media credits and source URLs (data/media_sources.json).

Read only for a media item's ``credit`` and its URLs, where a bare name *is* the
claim of origin ("Credit: Wilayat Sinai Media Office", ``t.me/amaq_agency``).
No regular expression touches user text: credits are cut into words by one
character scan, patterns are word sequences tried at each word (a ``*`` spans
one to three words of the same phrase), handles are compared with ``in``.

Offsets returned for credits are into the field's *normalised* text (as the
rule stage's other findings); for URLs, into the raw text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from classifiers.text import normalise

DATA_PATH = Path(__file__).parent / "data" / "media_sources.json"
MAX_WILDCARD_WORDS = 3
_HANDLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_PHRASE_GAPS = frozenset(" -")  # what may separate the words a wildcard spans


@dataclass(frozen=True, slots=True)
class SourceHit:
    """An actor (id, or None for an unnamed outlet) named by a credit or URL, with its span."""

    actor: str | None
    start: int
    end: int
    rule: str
    confidence: float


@dataclass(frozen=True, slots=True)
class _Pattern:
    id: str
    tokens: tuple[frozenset[str] | None, ...]  # None: the wildcard
    actor: str | None
    confidence: float
    wildcard_actors: dict[str, str]


def _words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of each run of letters and digits; apostrophes inside a word are dropped."""
    out: list[tuple[str, int, int]] = []
    chars: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        if ch.isalnum():
            if not chars:
                start = i
            chars.append(ch)
        elif ch == "'" and chars and i + 1 < len(text) and text[i + 1].isalnum():
            continue
        elif chars:
            out.append(("".join(chars), start, i))
            chars = []
    if chars:
        out.append(("".join(chars), start, len(text)))
    return out


def _compact(handle: str) -> str:
    return handle.lower().lstrip("@").replace("_", "").replace("-", "").replace(".", "")


class MediaSources:
    """The loaded data file: handle stems, credit-only outlet names, credit patterns."""

    def __init__(self, data: dict):
        self.version = str(data.get("version", "0"))
        self.stems = tuple((_compact(s["stem"]), s["actor"]) for s in data.get("handle_stems", []))
        self.outlets = tuple(
            (tuple(w for w, _, _ in _words(normalise(o["name"]).text)), o["actor"]) for o in data.get("credit_outlets", [])
        )
        raw_patterns = {p["id"]: p for p in data.get("credit_patterns", [])}
        patterns = []
        for p in raw_patterns.values():
            wild = p.get("wildcard_actors") or {}
            if isinstance(wild, str):  # the map of another pattern
                wild = raw_patterns[wild].get("wildcard_actors") or {}
            tokens = tuple(None if t == "*" else frozenset(_norm_word(w) for w in ([t] if isinstance(t, str) else t))
                           for t in p["tokens"])
            patterns.append(_Pattern(p["id"], tokens, p.get("actor"), float(p.get("confidence", 0.9)),
                                     {" ".join(_norm_word(w) for w in k.split()): v for k, v in wild.items()}))
        self.patterns = tuple(patterns)

    # -- handles -------------------------------------------------------------------------

    def handle_actor(self, handle: str) -> str | None:
        """The actor whose stem the handle contains (``@Amaq_Agency2`` -> Islamic State), else None."""
        compact = _compact(handle)
        for stem, actor in self.stems:
            if stem and stem in compact:
                return actor
        return None

    # -- credits -------------------------------------------------------------------------

    def credit_hits(self, norm_text: str) -> list[SourceHit]:
        """Outlets, channel patterns and handles named by a credit's normalised text."""
        words = _words(norm_text)
        hits: list[SourceHit] = []
        plain = [w for w, _, _ in words]
        for names, actor in self.outlets:
            n = len(names)
            for i in range(len(words) - n + 1):
                if tuple(plain[i:i + n]) == names:
                    hits.append(SourceHit(actor, words[i][1], words[i + n - 1][2], "attribution.credit_outlet", 0.95))
        for pattern in self.patterns:
            for i in range(len(words)):
                found = _match(pattern, words, norm_text, i)
                if found is not None:
                    end, wild = found
                    actor = _wildcard_actor(pattern, wild) or pattern.actor
                    hits.append(SourceHit(actor, words[i][1], words[end - 1][2], f"attribution.credit_pattern.{pattern.id}",
                                          pattern.confidence))
                    break
        hits.extend(self._credit_handles(norm_text))
        return hits

    def _credit_handles(self, text: str) -> list[SourceHit]:
        """``@handle`` and ``t.me/handle`` inside a credit."""
        hits = []
        for marker in ("@", "t.me/", "telegram.me/"):
            at = text.find(marker)
            while at >= 0:
                start = at + len(marker)
                end = start
                while end < len(text) and text[end] in _HANDLE_CHARS:
                    end += 1
                actor = self.handle_actor(text[start:end]) if end > start else None
                if actor is not None:
                    hits.append(SourceHit(actor, at, end, "attribution.credit_handle", 0.9))
                at = text.find(marker, end)
        return hits


def _norm_word(word: str) -> str:
    return "".join(w for w, _, _ in _words(normalise(word).text))


def _match(pattern: _Pattern, words: list[tuple[str, int, int]], text: str, i: int) -> tuple[int, list[str]] | None:
    """(end word index, wildcard words) when ``pattern`` matches starting at word ``i``."""

    def step(t: int, w: int) -> tuple[int, list[str]] | None:
        if t == len(pattern.tokens):
            return w, []
        token = pattern.tokens[t]
        if token is not None:
            if w < len(words) and words[w][0] in token:
                return step(t + 1, w + 1)
            return None
        last = t == len(pattern.tokens) - 1
        spans = range(min(MAX_WILDCARD_WORDS, len(words) - w), 0, -1) if last else range(1, MAX_WILDCARD_WORDS + 1)
        for n in spans:
            if w + n > len(words) or not _one_phrase(words, text, w, w + n):
                continue
            rest = step(t + 1, w + n)
            if rest is not None:
                return rest[0], [x for x, _, _ in words[w:w + n]] + rest[1]
        return None

    return step(0, i)


def _one_phrase(words: list[tuple[str, int, int]], text: str, first: int, end: int) -> bool:
    """Whether words[first:end] are separated only by spaces and hyphens."""
    for k in range(first, end - 1):
        gap = text[words[k][2]:words[k + 1][1]]
        if not gap or any(ch not in _PHRASE_GAPS for ch in gap):
            return False
    return True


def _wildcard_actor(pattern: _Pattern, wild: list[str]) -> str | None:
    """A more precise actor named by the wildcard's words ("Sinai" -> IS Sinai Province)."""
    if not pattern.wildcard_actors:
        return None
    for n in range(len(wild), 0, -1):
        for k in range(len(wild) - n + 1):
            actor = pattern.wildcard_actors.get(" ".join(wild[k:k + n]))
            if actor is not None:
                return actor
    return None


def load_media_sources(path: Path | None = None) -> MediaSources:
    return MediaSources(json.loads((path or DATA_PATH).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def default_media_sources() -> MediaSources:
    """The shipped data file, loaded once per process."""
    return load_media_sources()
