"""Text extraction and normalisation with offsets mapped back to the original.

The rule stage matches on a normalised copy of every field: NFKC, case folded,
diacritics stripped, curly quotes and dashes made plain, zero-width and bidi
marks dropped, common Cyrillic/Greek homoglyphs mapped to Latin letters. Every
character of the normalised copy remembers which original character it came
from, so a span found in the copy maps back to ``field_text[start:end]``.

No regular expressions touch user text here: normalisation is a translate table
built once per distinct character, sentence splitting is a ``str.find`` scan.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Characters dropped entirely: zero-width, joiners, bidi controls, soft hyphen, BOM.
_DROPPED = {
    0x00AD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062,
    0x2063, 0x2064, 0xFEFF, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066,
    0x2067, 0x2068, 0x2069, 0x180E, 0x034F,
}

# Punctuation made plain (one character in, one out).
_PLAIN = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u02bc": "'", "\u02bb": "'", "\u02bf": "'", "\u02be": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u3000": " ",
    "\t": " ", "\r": " ", "\u2028": "\n", "\u2029": "\n", "\u0085": "\n",
}

# Letters that look like Latin ones (the usual spoofing set: Cyrillic, Greek).
_HOMOGLYPHS = {
    "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i",
    "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s",
    "т": "t", "у": "y", "х": "x", "ԝ": "w", "ѵ": "v", "ӏ": "l",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ѡ": "w",
}


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    """Normalised form of one character (may be empty or several characters)."""
    code = ord(ch)
    if code in _DROPPED:
        return ""
    if ch in _PLAIN:
        return _PLAIN[ch]
    if 0xD800 <= code <= 0xDFFF:  # lone surrogate: keep a neutral placeholder
        return " "
    out = []
    for c in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", ch)):
        if unicodedata.combining(c):
            continue
        c = _PLAIN.get(c, c)
        low = c.lower()
        low = _HOMOGLYPHS.get(low, low)
        out.append(low)
    folded = "".join(out)
    if unicodedata.category(ch) in ("Cc", "Cf") and ch != "\n":
        return "" if unicodedata.category(ch) == "Cf" else " "
    return folded


@dataclass(frozen=True, slots=True)
class Normalised:
    """A field's normalised text plus the map back to the original text."""

    original: str
    text: str
    # starts[i] / ends[i]: original span of normalised character i (None = identity).
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised [start, end) span to the original text."""
        if self.starts is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def normalise(text: str) -> Normalised:
    """Fold ``text`` for matching; linear in its length."""
    if text.isascii():
        folded = text.lower().translate(_ASCII_TABLE)
        return Normalised(text, folded)
    table: dict[int, str] = {}
    identity = True
    for ch in set(text):
        folded = _fold_char(ch)
        table[ord(ch)] = folded
        if len(folded) != 1:
            identity = False
    if identity:
        return Normalised(text, text.translate(table))
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        folded = table[ord(ch)]
        if not folded:
            continue
        parts.append(folded)
        starts.extend([i] * len(folded))
        ends.extend([i + 1] * len(folded))
    return Normalised(text, "".join(parts), tuple(starts), tuple(ends))


_ASCII_TABLE = str.maketrans({"\t": " ", "\r": " ", "`": "'"})

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st gen col lt sgt capt maj cpl rev prof sen rep gov jan feb mar apr jun jul"
    " aug sep sept oct nov dec no vs inc ltd co corp jr sr u.s u.n u.k e.g i.e al".split()
)


_ENDERS = (".", "!", "?", ";", "\n")
_AFTER = frozenset(" \n\"')")


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence in normalised ``text``.

    Only the punctuation marks are visited (``str.find`` per mark), so the cost
    grows with the number of sentences, not with a Python loop over characters.
    """
    cuts: list[int] = []
    n = len(text)
    for mark in _ENDERS:
        i = text.find(mark)
        while i >= 0:
            if mark == "\n" or i + 1 >= n or text[i + 1] in _AFTER:
                if not (mark == "." and _is_abbreviation(text, i)):
                    cuts.append(i + 1)
            i = text.find(mark, i + 1)
    cuts.sort()
    bounds: list[tuple[int, int]] = []
    start = 0
    for cut in cuts:
        if cut > start:
            bounds.append((start, cut))
            start = cut
    if start < n:
        bounds.append((start, n))
    return bounds


def _is_abbreviation(text: str, dot: int) -> bool:
    j = dot
    while j > 0 and text[j - 1] not in " \n(\"'":
        j -= 1
    word = text[j:dot]
    return len(word) == 1 or word in _ABBREVIATIONS


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"
