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
    wend: int = 0  # index of the first word after the hit (``word`` plus the words of ``key``)


@dataclass
class FieldHits:
    """All hits of one field, grouped by sentence, plus sentence spans."""

    norm: Normalised
    sentences: list[tuple[int, int]]
    by_sentence: list[list[Hit]]
    # The same hits per sentence, grouped by kind (each group in hit order).
    by_kind: list[dict[str, list[Hit]]] | None = None

    def sentence_text(self, index: int) -> str:
        start, end = self.sentences[index]
        return self.norm.text[start:end]


_ALNUM = bytes(1 if chr(b).isalnum() else 0 for b in range(256))


def scan(lex: Lexicon, norm: Normalised) -> FieldHits:
    text = norm.text
    n = len(text)
    sentences = sentence_bounds(text)
    # Automaton values carry precomputed per-phrase data (lexicon._automaton_value).
    raw: list[tuple[int, int, tuple]] = []
    append = raw.append
    # whole words only: no letter or digit right before or after the match
    # ((start, -end) is unique per match, the key being text[start:end], so the tuples never compare further)
    if text.isascii():  # O(1); most normalised text. One byte per character: 1 for a letter or digit, 0 else.
        mask = b"\0" + text.encode("ascii").translate(_ALNUM) + b"\0"  # shifted by one: mask[i + 1] is text[i]
        for end_idx, value in lex.automaton.iter(text):
            start = end_idx + 1 - value[2]
            if mask[start] or mask[end_idx + 2]:
                continue
            append((start, -end_idx - 1, value))
    else:
        for end_idx, value in lex.automaton.iter(text):
            end = end_idx + 1
            start = end - value[2]
            if (start > 0 and text[start - 1].isalnum()) or (end < n and text[end].isalnum()):
                continue
            append((start, -end, value))
    raw.sort()
    by_sentence: list[list[Hit]] = [[] for _ in sentences]
    by_kind: list[dict[str, list[Hit]]] = [{} for _ in sentences]
    # Word positions: count spaces incrementally between consecutive hit starts (linear overall).
    # Hits come in start order, so the sentence index only moves forward.
    word = 0
    pos = 0
    sidx = -1
    next_starts = [s for s, _ in sentences[1:]]
    next_starts.append(n + 1)
    next_start = sentences[0][0] if sentences else n + 1
    bucket: list[Hit] = []
    groups: dict[str, list[Hit]] = {}
    cover_end = -1  # inside "al-Shabaab" or "Amaq News Agency", the shorter name matches add nothing
    # words are separated by spaces and newlines: count both as spaces in one call per hit
    count = (text.replace("\n", " ") if "\n" in text else text).count
    for start, neg_end, value in raw:
        end = -neg_end
        key, entries, _, n_words, is_name, without_names, case_checked = value
        if is_name:
            if end <= cover_end:
                entries = without_names
                if not entries:
                    continue
                case_checked = False
            else:
                cover_end = end
        elif end <= cover_end:
            # "army" inside "Islamic Army in Iraq" is the group's name, not a reporting subject
            entries = tuple(e for e in entries if e[0] != "reporting_subjects")
            if not entries:
                continue
        if start != pos:
            word += count(" ", pos, start)
            pos = start
        while start >= next_start:
            sidx += 1
            next_start = next_starts[sidx]
            bucket = by_sentence[sidx]
            groups = by_kind[sidx]
        if sidx < 0:
            continue
        wend = word + n_words
        for kind, payload in entries:
            if case_checked and kind == "actor_cs":
                if not _case_matches(lex, norm, key, start, end):
                    continue
                kind = "actor"
            hit = Hit(kind, payload, key, start, end, word, sidx, wend)
            bucket.append(hit)
            group = groups.get(kind)
            if group is None:
                groups[kind] = [hit]
            else:
                group.append(hit)
    return FieldHits(norm, sentences, by_sentence, by_kind)


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
