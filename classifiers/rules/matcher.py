"""Find every lexicon phrase in a field, at word boundaries, with its sentence and word position."""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.rules.lexicon import Lexicon
from classifiers.text import Normalised, sentence_bounds


@dataclass(slots=True)
class Hit:
    kind: str
    payload: object
    key: str
    start: int  # normalised offsets
    end: int
    word: int  # index of the hit's first word in the field
    sentence: int


@dataclass
class FieldHits:
    """All hits of one field, grouped by sentence, plus sentence spans."""

    norm: Normalised
    sentences: list[tuple[int, int]]
    by_sentence: list[list[Hit]]

    def sentence_text(self, index: int) -> str:
        start, end = self.sentences[index]
        return self.norm.text[start:end]


def scan(lex: Lexicon, norm: Normalised) -> FieldHits:
    text = norm.text
    n = len(text)
    sentences = sentence_bounds(text)
    raw: list[tuple[int, int, str, tuple]] = []
    for end_idx, (key, entries) in lex.automaton.iter(text):
        end = end_idx + 1
        start = end - len(key)
        # whole words only: no letter or digit right before or after the match
        if (start > 0 and text[start - 1].isalnum()) or (end < n and text[end].isalnum()):
            continue
        raw.append((start, end, key, entries))
    raw.sort(key=lambda r: (r[0], -r[1]))
    raw = _drop_nested_names(raw)
    by_sentence: list[list[Hit]] = [[] for _ in sentences]
    # Word positions: count spaces incrementally between consecutive hit starts (linear overall).
    # Hits come in start order, so the sentence index only moves forward.
    word = 0
    pos = 0
    sidx = -1
    n_sentences = len(sentences)
    next_start = sentences[0][0] if sentences else n + 1
    for start, end, key, entries in raw:
        word += text.count(" ", pos, start) + text.count("\n", pos, start)
        pos = start
        while start >= next_start:
            sidx += 1
            next_start = sentences[sidx + 1][0] if sidx + 1 < n_sentences else n + 1
        if sidx < 0:
            continue
        bucket = by_sentence[sidx]
        for kind, payload in entries:
            if kind == "actor_cs":
                if not _case_matches(lex, norm, key, start, end):
                    continue
                kind = "actor"
            bucket.append(Hit(kind, payload, key, start, end, word, sidx))
    return FieldHits(norm, sentences, by_sentence)


def _case_matches(lex: Lexicon, norm: Normalised, key: str, start: int, end: int) -> bool:
    """Case-sensitive aliases ("IS") count only as written, and not inside all-caps text."""
    s, e = norm.span(start, end)
    original = norm.original[s:e]
    if original not in lex.case_sensitive.get(key, ()):
        return False
    if original.isupper():
        # "IS" inside an all-capitals headline is the verb.
        before = norm.original[max(0, s - 12):s]
        after = norm.original[e:e + 12]
        letters = [c for c in before + after if c.isalpha()]
        if letters and sum(c.isupper() for c in letters) / len(letters) > 0.6:
            return False
    return True


_NAME_KINDS = ("actor", "actor_cs", "outlet")


def _drop_nested_names(raw: list[tuple[int, int, str, tuple]]) -> list[tuple[int, int, str, tuple]]:
    """Inside "al-Shabaab" or "Amaq News Agency", the shorter name matches add nothing."""
    out = []
    cover_end = -1
    for start, end, key, entries in raw:
        is_name = any(k in _NAME_KINDS for k, _ in entries)
        if is_name and end <= cover_end:
            entries = tuple(e for e in entries if e[0] not in _NAME_KINDS)
            if not entries:
                continue
        elif is_name:
            cover_end = end
        out.append((start, end, key, entries))
    return out
