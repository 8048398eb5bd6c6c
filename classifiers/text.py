"""Text extraction and normalisation with offsets mapped back to the original.

The rule stage matches on a normalised copy of every field: NFKC, case folded,
diacritics stripped, curly quotes and dashes made plain, zero-width and bidi
marks dropped, common Cyrillic/Greek homoglyphs mapped to Latin letters. Every
character of the normalised copy remembers which original character it came
from, so a span found in the copy maps back to ``field_text[start:end]``.

Normalisation is a translate table built once per distinct character; sentence
splitting is a ``str.find`` scan. The two regular expressions here (runs of plain
characters, leetspeak shapes) read each character a bounded number of times:
linear in the text, nothing to backtrack over.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

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
    """Fold ``text`` for matching, then undo leetspeak and letter spacing; linear in its length."""
    return _deobfuscate(_fold(text))


# Characters whose folded form may differ from ``str.lower()`` are all but newline and printable ASCII
# other than the backtick. (Printable ASCII folds to its lower case; the only non-ASCII character
# that lower-cases to ASCII, the Kelvin sign, folds to the same "k", so leaving plain ASCII out of
# the table changes nothing in ``_apply``.) One linear regex pass deletes the plain runs.
_PLAIN_RUN = re.compile(r"[\n\x20-\x5f\x61-\x7e]+")


def _fold_table(text: str) -> tuple[dict[int, str], bool]:
    """Folded form of the characters of ``text`` that need more than lower-casing, and whether the
    table holds every character of ``text`` (it does for text mostly in another script)."""
    if 16 * (len(text) - len(text.encode("ascii", "ignore"))) > len(text):
        # over 1 character in 16 non-ASCII: deleting the many plain runs costs more than ``set(text)``
        return _full_table(text), True
    return {ord(ch): _fold_char(ch) for ch in set(_PLAIN_RUN.sub("", text))}, False


def _fold(text: str) -> Normalised:
    if text.isascii():
        # text.lower().translate(_ASCII_TABLE): three single-character replaces are C-speed scans
        folded = text.lower().replace("\t", " ").replace("\r", " ").replace("`", "'")
        if " quot;" in folded:
            # a feed that lost the ampersand of "&quot;" (wire copy scraped from HTML): the same length, so
            # offsets stay put, with the quote mark against the word it opens
            folded = folded.replace(" quot;", '     "')
        return Normalised(text, folded)
    table, complete = _fold_table(text)
    folded = _apply(text, table, complete)
    if all(len(v) == 1 for v in table.values()):
        return Normalised(text, folded)
    return Normalised(text, folded, *_offsets(text, table, len(folded)))


# Above this many distinct characters to replace, one ``str.translate`` pass beats repeated ``str.replace``.
_MAX_REPLACEMENTS = 24


def _apply(text: str, table: dict[int, str], complete: bool = True) -> str:
    """``text.translate(table)``, computed with C-speed passes where that is exact.

    ``str.translate`` looks every character of a non-ASCII string up in a dict,
    which costs more than the rest of the pipeline. Lower-casing first, then
    replacing the few characters whose folded form differs, gives the same
    string whenever lower-casing keeps lengths and no replacement feeds another.
    ``complete``: ``table`` maps every character of ``text`` (else only those that need more than
    lower-casing, see ``_SPECIAL_RUN``).
    """
    if 0x03A3 in table:  # str.lower() turns a final capital sigma into "ς", one character at a time does not
        return text.translate(table if complete else _full_table(text))
    replace: dict[str, str] = {}
    for code, target in table.items():
        low = chr(code).lower()
        if len(low) != 1 or replace.get(low, target) != target:
            return text.translate(table if complete else _full_table(text))
        if low != target:
            replace[low] = target
    if len(replace) > _MAX_REPLACEMENTS or any(k in t for t in replace.values() for k in replace):
        return text.translate(table if complete else _full_table(text))
    out = text.lower()
    for low, target in replace.items():
        out = out.replace(low, target)
    return out


def _full_table(text: str) -> dict[int, str]:
    return {ord(ch): _fold_char(ch) for ch in set(text)}


def _offsets(text: str, table: dict[int, str], size: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Original span of every folded character, when folding drops or expands some characters."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    odd = {code: len(v) for code, v in table.items() if len(v) != 1}
    if len(odd) <= 8:
        lengths = np.ones(len(codes), dtype=np.int64)
        for code, n in odd.items():
            lengths[codes == code] = n
    else:
        uniq, inverse = np.unique(codes, return_inverse=True)
        lengths = np.array([len(table[u] if u in table else _fold_char(chr(u))) for u in uniq.tolist()], dtype=np.int64)[inverse]
    starts = np.repeat(np.arange(len(codes), dtype=np.int64), lengths)
    assert len(starts) == size
    return tuple(starts.tolist()), tuple((starts + 1).tolist())


_ASCII_TABLE = str.maketrans({"\t": " ", "\r": " ", "`": "'"})

# Leetspeak inside words that also hold letters ("1s1s", "d4esh", "@maq"); numbers stay numbers.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_CHARS = frozenset("013457@$")
_SPACERS = frozenset(".-_*")


# Each ASCII byte's shape: a letter, a look-alike digit or sign, a space, a spacer, or other.
# "?" stands for any non-ASCII character (``encode(..., "replace")``) and counts as a letter.
_SHAPE = bytes(
    (ord("a") if chr(b).isalpha() or b == ord("?") else ord("1") if chr(b) in _LEET_CHARS else ord(" ") if b == 32
     else ord(".") if chr(b) in _SPACERS else ord("#"))
    for b in range(256)
)


# Starts with the rare "1": found at C speed. At a "1" that follows a letter the run of look-alikes is read
# once, at a "1" before a letter the run of letters is read once: linear.
_LEET_RUN = re.compile(rb"1(?:(?<=a1)1*a|a+1)")


def _maybe_obfuscated(text: str) -> bool:
    """Cheap test (C-speed passes) that is true wherever ``_undo_evasions`` could change something."""
    shape = b" " + text.encode("ascii", "replace").translate(_SHAPE)
    # letter-spaced words: three single letters in a row ("i s i s"), or a token that starts with
    # dotted or hyphenated single letters ("i.s.i.s"; not "lashkar-e-taiba")
    if b" a a a" in shape or b" a.a.a" in shape:
        return True
    # leetspeak: letters and look-alikes alternate at least twice ("1s1s", "d4esh", "a000a"), that is
    # a letter, look-alikes, a letter ("a1+a") or a look-alike, letters, a look-alike ("1a+1")
    if 8 * shape.count(b"1") > len(shape) and (b"a1" not in shape or b"1a" not in shape):
        return False  # text full of digits: two scans rule most of it out faster than trying each "1"
    return _LEET_RUN.search(shape) is not None


def _deobfuscate(n: Normalised) -> Normalised:
    """Undo the common evasions: leetspeak in mixed tokens and letter-spaced words ("I S I S")."""
    return _undo_evasions(n) if _maybe_obfuscated(n.text) else n


def _undo_evasions(n: Normalised) -> Normalised:
    text = n.text
    tokens = text.split(" ")
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in n.text
    pos = 0
    run: list[tuple[int, str]] = []  # single letters in a row: (offset, letter)

    def flush() -> None:
        if len(run) >= 3:
            start = run[0][0]
            end = run[-1][0] + 1
            edits.append((start, end, "".join(ch for _, ch in run)))
        run.clear()

    for tok in tokens:
        if len(tok) == 1 and tok.isalpha():
            run.append((pos, tok))
        else:
            if run:
                flush()
            if 3 <= len(tok) <= 24 and not tok.isalpha() and not tok.isdigit():
                core = tok
                if not _LEET_CHARS.isdisjoint(core) and any(c.isalpha() for c in core):
                    word = core.strip(".,;:!?\"'()[]")
                    lead = core.find(word) if word else 0
                    # only hyphen-free words where letters and look-alikes alternate twice or more:
                    # "1s1s", "d4esh"; never "44-year-old", "5pm", "covid19", "b52"
                    if word and "-" not in word and _interleaved(word):
                        mapped = word.translate(_LEET)
                        if mapped != word and mapped.replace("'", "").isalpha():
                            edits.append((pos + lead, pos + lead + len(word), mapped))
                if not _SPACERS.isdisjoint(tok):  # (without a spacer the token is one part)
                    parts = _split_spacers(tok)
                    if len(parts) >= 3 and all(len(p) == 1 and p.isalpha() for p in parts):
                        edits.append((pos, pos + len(tok.rstrip(".")), "".join(parts)))
        pos += len(tok) + 1
    flush()
    if not edits:
        return n
    edits.sort()
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cursor = 0
    base_starts = n.starts
    base_ends = n.ends

    def orig(i: int) -> tuple[int, int]:
        return (i, i + 1) if base_starts is None else (base_starts[i], base_ends[i])

    def copy(stop: int) -> None:
        # text[cursor:stop] unchanged, each character keeping its source span (slices, not a loop per character)
        if stop > cursor:
            out.append(text[cursor:stop])
            if base_starts is None:
                starts.extend(range(cursor, stop))
                ends.extend(range(cursor + 1, stop + 1))
            else:
                starts.extend(base_starts[cursor:stop])
                ends.extend(base_ends[cursor:stop])

    for start, end, repl in edits:
        if start < cursor:
            continue
        copy(start)
        if len(repl) == end - start:
            for k, ch in enumerate(repl):
                out.append(ch)
                s, e = orig(start + k)
                starts.append(s)
                ends.append(e)
        else:
            # letters of a spaced word: each keeps its own source character
            k = start
            for ch in repl:
                while k < end and text[k] != ch:
                    k += 1
                out.append(ch)
                s, e = orig(min(k, end - 1))
                starts.append(s)
                ends.append(e)
                k += 1
        cursor = end
    copy(len(text))
    return Normalised(n.original, "".join(out), tuple(starts), tuple(ends))


def _interleaved(word: str) -> bool:
    """Letters and leet characters alternate at least twice within ``word``."""
    changes = 0
    prev = None
    for ch in word:
        kind = "l" if ch in _LEET_CHARS else ("a" if ch.isalpha() else None)
        if kind is None:
            return False
        if prev is not None and kind != prev:
            changes += 1
        prev = kind
    return changes >= 2


def _split_spacers(tok: str) -> list[str]:
    """``tok`` cut at every spacer character; a trailing empty part is dropped."""
    parts = tok.replace("-", ".").replace("_", ".").replace("*", ".").split(".")
    if parts and parts[-1] == "":
        parts.pop()
    return parts

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st gen col lt sgt capt maj cpl rev prof sen rep gov jan feb mar apr jun jul"
    " aug sep sept oct nov dec no vs inc ltd co corp jr sr u.s u.n u.k e.g i.e al".split()
)


_ENDERS = (".", "!", "?", ";", "\n")
MAX_SENTENCE_CHARS = 1200
_AFTER = frozenset(" \n\"')")


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence in normalised ``text``.

    Only the punctuation marks are visited (``str.find`` per mark), so the cost
    grows with the number of sentences, not with a Python loop over characters.
    """
    cuts: list[int] = []
    n = len(text)
    find = text.find
    for mark in _ENDERS:
        i = find(mark)
        while i >= 0:
            if mark == "\n" or i + 1 >= n or text[i + 1] in _AFTER:
                # No space, newline, bracket or quote in the few characters before a dot: the word before
                # it is longer than any abbreviation and than one letter, so the dot ends the sentence.
                if not (mark == "." and (i < _ABBREV_REACH or not _WORD_BEFORE.isdisjoint(text[i - _ABBREV_REACH:i]))
                        and _is_abbreviation(text, i)):
                    cuts.append(i + 1)
            i = find(mark, i + 1)
    cuts.sort()
    if not n:
        return []
    ends = cuts if cuts and cuts[-1] == n else [*cuts, n]
    starts = [0, *ends[:-1]]
    if n <= MAX_SENTENCE_CHARS or max(map(int.__sub__, ends, starts)) <= MAX_SENTENCE_CHARS:
        return list(zip(starts, ends))  # no sentence to cut: what the loop below gives, at C speed
    bounds: list[tuple[int, int]] = []
    start = 0
    for cut in [*cuts, n]:
        while cut - start > MAX_SENTENCE_CHARS:
            # No sentence runs this long: cut at a space so per-sentence work stays bounded.
            split = text.rfind(" ", start + MAX_SENTENCE_CHARS // 2, start + MAX_SENTENCE_CHARS)
            split = split + 1 if split > start else start + MAX_SENTENCE_CHARS
            bounds.append((start, split))
            start = split
        if cut > start:
            bounds.append((start, cut))
            start = cut
    return bounds


def _is_abbreviation(text: str, dot: int) -> bool:
    if dot >= 1 and text[dot - 1] not in _WORD_BEFORE and (dot == 1 or text[dot - 2] in _WORD_BEFORE):
        return True  # a single letter ("J. Smith")
    lo = max(0, dot - 8)  # longer words are not in the list
    j = max(text.rfind(" ", lo, dot), text.rfind("\n", lo, dot), text.rfind("(", lo, dot),
            text.rfind('"', lo, dot), text.rfind("'", lo, dot))
    if j < 0:
        if lo > 0:
            return False
        j = -1
    return text[j + 1:dot] in _ABBREVIATIONS


_WORD_BEFORE = frozenset(" \n(\"'")
# How far before a dot a word boundary must be for the word to possibly be an abbreviation or a single letter.
_ABBREV_REACH = max(map(len, _ABBREVIATIONS)) + 1


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"
