"""Hashed word and character n-gram features, computed with numpy.

``HashedNgrams`` is a scikit-learn transformer with no learned state: each
n-gram is hashed (a polynomial hash over code points, mixed, modulo
``n_features``) and counted; a document's vector is its counts divided by the
square root of its n-gram total. The same code serves training and the lean
serving path, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifiers.text import normalise

_P = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_MAX_CHARS = 200_000  # longer texts: the first part only (bounded work per document)
_EMPTY = np.zeros(0, dtype=np.int64)
_EMPTY.flags.writeable = False


def _codes(text: str) -> np.ndarray:
    folded = " ".join(normalise(text[:_MAX_CHARS]).text.split())
    return np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _mix(h: np.ndarray, salt: int) -> np.ndarray:
    h = (h ^ np.uint64(salt)) * _MIX
    return h ^ (h >> np.uint64(29))


def _mix_into(h: np.ndarray, salt: int, out: np.ndarray) -> None:
    """``out[:] = _mix(h, salt)`` without temporaries beyond one shift."""
    np.bitwise_xor(h, np.uint64(salt), out=out)
    np.multiply(out, _MIX, out=out)
    np.bitwise_xor(out, out >> np.uint64(29), out=out)


# Word characters: ASCII letters/digits, the apostrophe, and any code point from U+00C0 on
# (above Latin-1 punctuation). A table over min(code, 0xC0) answers it in two passes.
_WORD_TABLE = np.zeros(0xC1, dtype=bool)
for _lo, _hi in ((48, 57), (97, 122), (65, 90), (39, 39), (0xC0, 0xC0)):
    _WORD_TABLE[_lo:_hi + 1] = True
del _lo, _hi


def _is_word(c: np.ndarray) -> np.ndarray:
    # ASCII letters/digits, and any non-ASCII code point above Latin-1 punctuation.
    return _WORD_TABLE[np.minimum(c, np.uint64(0xC0))]


def _word_bounds(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of every run of word characters in ``c``."""
    if len(c) == 0:
        return _EMPTY, _EMPTY
    w = _is_word(c)
    edges = np.empty(len(w) + 1, dtype=bool)  # edges[i]: w[i - 1] != w[i], with False outside
    edges[0] = w[0]
    edges[-1] = w[-1]
    np.not_equal(w[1:], w[:-1], out=edges[1:-1])
    bounds = np.flatnonzero(edges)
    return bounds[0::2], bounds[1::2]


_PINV = np.uint64(pow(int(_P), -1, 2**64))
_POWERS: list[np.ndarray] = [np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64)]


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P^j and P^-j (mod 2^64) for j < n, computed once and grown on demand."""
    if len(_POWERS[0]) < n:
        size = max(n, 2 * len(_POWERS[0]), 8192)
        powers = np.empty(size, dtype=np.uint64)
        powers[0] = 1
        powers[1:] = np.cumprod(np.full(size - 1, _P, dtype=np.uint64))
        inv = np.empty(size, dtype=np.uint64)
        inv[0] = 1
        inv[1:] = np.cumprod(np.full(size - 1, _PINV, dtype=np.uint64))
        _POWERS[:] = [powers, inv]  # one assignment: threads see either the old or the new pair
    powers, inv = _POWERS
    return powers[:n], inv[:n]


def _bucket(h: np.ndarray, n_features: int) -> np.ndarray:
    """Feature index of each hash: a mask when ``n_features`` is a power of two (the same as the modulo)."""
    if n_features & (n_features - 1) == 0:
        return (h & np.uint64(n_features - 1)).astype(np.int64)
    return (h % np.uint64(n_features)).astype(np.int64)


def _word_hashes(c: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Polynomial hash of each word ``c[starts[i]:ends[i]]``: sum of code * P^(position from word end)."""
    # via prefix sums of c * Pinv^j; exact arithmetic mod 2^64, so a word hashes alike wherever it sits
    n = len(c)
    powers, inv = _powers(n + 1)
    prefix = np.empty(n + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(c * inv[:n], dtype=np.uint64, out=prefix[1:])
    return (prefix[ends] - prefix[starts]) * powers[ends - 1]


def _hash_ngrams(words: np.ndarray, c: np.ndarray, word_max_n: int, char_min_n: int, char_max_n: int,
                 n_features: int) -> tuple[np.ndarray, list[int]]:
    """Feature indices of the word 1..word_max_n-grams, then the character n-grams of ``c``.

    ``words`` are the word hashes in order. The n-gram hash of size s is
    ``h_s[i] = h_(s-1)[i] * P + x[i + s - 1]`` (the polynomial over s items), mixed with a salt per
    kind and size, then bucketed. Also returns where each word n-gram size starts (one entry
    more than there are word sizes).
    """
    n_w, n_c = len(words), len(c)
    word_sizes = [s for s in range(1, word_max_n + 1) if n_w >= s]
    char_sizes = [s for s in range(char_min_n, char_max_n + 1) if n_c >= s]
    total = sum(n_w - s + 1 for s in word_sizes) + sum(n_c - s + 1 for s in char_sizes)
    out = np.empty(total, dtype=np.uint64)
    pos = 0
    part_start = [0]
    h = words
    for s in word_sizes:
        m = n_w - s + 1
        if s > 1:
            h = h[:m] * _P + words[s - 1:]
        _mix_into(h, 0x200 + s if s > 1 else 0x200, out[pos:pos + m])
        pos += m
        part_start.append(pos)
    if char_sizes:
        h = c
        for s in range(1, char_sizes[-1] + 1):
            m = n_c - s + 1
            if s > 1:
                h = h[:m] * _P + c[s - 1:]
            if s >= char_min_n:
                _mix_into(h, 0x100 + s, out[pos:pos + m])
                pos += m
    if n_features & (n_features - 1) == 0:
        np.bitwise_and(out, np.uint64(n_features - 1), out=out)
        return out.view(np.int64), part_start  # below 2^63: the same numbers as astype(int64)
    return (out % np.uint64(n_features)).astype(np.int64), part_start


# Whitespace to str.split() that word_spans keeps as text: when a normalised text holds none,
# its word characters fall in the same runs before and after whitespace is folded.
_SPLIT_ONLY = "".join(chr(i) for i in range(0x110000) if chr(i).isspace() and chr(i) not in " \n\t\r\f\v")
_SPLIT_ONLY_RE = re.compile("[%s]" % "".join(re.escape(ch) for ch in _SPLIT_ONLY))
_SPLIT_ONLY_ASCII = [ch for ch in _SPLIT_ONLY if ch.isascii()]


def _split_only_space(text: str) -> bool:
    """Whether ``text`` holds whitespace that str.split() splits on and word_spans does not fold."""
    if text.isascii():
        return any(ch in text for ch in _SPLIT_ONLY_ASCII)
    return _SPLIT_ONLY_RE.search(text) is not None


def _collapse(folded: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``folded`` with whitespace runs as one space, no leading or trailing
    whitespace, and the offset in ``folded`` of each code kept."""
    raw = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    space = (raw == 32) | (raw == 10) | (raw == 9) | (raw == 13) | (raw == 12) | (raw == 11)
    prev_space = np.concatenate(([True], space[:-1]))
    keep = ~(space & prev_space)
    back = np.flatnonzero(keep)
    if len(back) and space[back[-1]]:
        back = back[:-1]  # trailing whitespace
    return np.where(space[back], np.uint64(32), raw[back]), back


def word_spans(folded: str, max_n: int, n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature index, start, end) of every word n-gram of an already-normalised text.

    Whitespace runs hash like single spaces, so indices agree with ``HashedNgrams``.
    """
    empty = np.zeros(0, dtype=np.int64)
    c, back = _collapse(folded)
    if len(back) == 0:
        return empty, empty, empty
    starts, ends = _word_bounds(c)
    if len(starts) == 0:
        return empty, empty, empty
    idx, part_start = _hash_ngrams(_word_hashes(c, starts, ends), c[:0], max_n, 1, 0, n_features)
    s_out, e_out = [], []
    for size in range(1, len(part_start)):
        m = part_start[size] - part_start[size - 1]
        s_out.append(back[starts[:m]])
        e_out.append(back[ends[size - 1: size - 1 + m] - 1] + 1)
    return idx, np.concatenate(s_out), np.concatenate(e_out)


class NgramScan(NamedTuple):
    """``HashedNgrams.scan``: the feature indices, and where the word n-grams came from."""

    idx: np.ndarray
    folded: str | None  # the normalised text, when ``starts``/``ends`` are offsets into it
    starts: np.ndarray  # word bounds
    ends: np.ndarray
    part_start: list[int]  # where each word n-gram size starts in ``idx`` (one entry more than sizes)


class FieldGrams(NamedTuple):
    """One field's word n-grams, in ``word_spans`` order.

    Either ``segments`` of a document's feature indices (``idx[lo:hi]`` for each n-gram size)
    or the field's own ``idx``; ``start``/``end`` are offsets into ``text``, and ``offset`` is
    where the field begins in ``text``.
    """

    segments: tuple[tuple[int, int], ...]
    idx: np.ndarray | None
    start: np.ndarray
    end: np.ndarray
    text: str
    offset: int


class HashedNgrams(TransformerMixin, BaseEstimator):
    """Stateless hashed n-gram counts scaled by 1/sqrt(total)."""

    def __init__(self, n_features: int = 2**18, word_max_n: int = 2, char_min_n: int = 3, char_max_n: int = 5):
        self.n_features = n_features
        self.word_max_n = word_max_n
        self.char_min_n = char_min_n
        self.char_max_n = char_max_n

    def fit(self, X, y=None):
        return self

    def indices(self, text: str) -> np.ndarray:
        """Feature index of every n-gram occurrence in ``text`` (repeats kept)."""
        c = _codes(text)
        starts, ends = _word_bounds(c)
        return _hash_ngrams(_word_hashes(c, starts, ends), c, self.word_max_n, self.char_min_n, self.char_max_n,
                            self.n_features)[0]

    def scan(self, text: str) -> NgramScan:
        """``indices(text)``, keeping what ``field_grams`` needs to place the word n-grams."""
        folded = normalise(text[:_MAX_CHARS]).text
        c = np.frombuffer(" ".join(folded.split()).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)  # _codes(text)
        if len(text) <= _MAX_CHARS and not _split_only_space(folded):
            # All whitespace is what word_spans folds, and none of it is a word character: the words
            # of ``folded`` are those of ``c``; find them in ``folded`` (a word hashes alike anywhere).
            word_codes = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        else:
            word_codes, folded = c, None
        starts, ends = _word_bounds(word_codes)
        idx, part_start = _hash_ngrams(_word_hashes(word_codes, starts, ends), c, self.word_max_n, self.char_min_n,
                                       self.char_max_n, self.n_features)
        return NgramScan(idx, folded, starts, ends, part_start)

    @staticmethod
    def field_grams(scan: NgramScan, folded_fields: list[str]) -> list[FieldGrams] | None:
        """Each field's word n-grams, located in a scan of the fields joined by newlines.

        ``folded_fields`` are the fields' normalised texts. When normalising the joined text
        gave exactly those joined by newlines, field ``i``'s word n-grams are the same, in the
        same order and at the same offsets (less ``offset``), as ``word_spans(folded_fields[i])``
        gives. Otherwise None: the caller uses ``word_spans`` per field.
        """
        folded = scan.folded
        if folded is None or folded != "\n".join(folded_fields):
            return None
        field_start = [0]
        for f in folded_fields:
            field_start.append(field_start[-1] + len(f) + 1)
        first = np.searchsorted(scan.starts, field_start).tolist()  # first word of each field
        part_start = scan.part_start
        out: list[FieldGrams] = []
        for i in range(len(folded_fields)):
            a, b = first[i], first[i + 1]
            segments, s_out, e_out = [], [], []
            for size in range(1, len(part_start)):
                m = b - a - size + 1
                if m <= 0:
                    break
                segments.append((part_start[size - 1] + a, part_start[size - 1] + a + m))
                s_out.append(scan.starts[a:a + m])
                e_out.append(scan.ends[a + size - 1:b])
            if len(s_out) == 1:
                start, end = s_out[0], e_out[0]
            else:
                start = np.concatenate(s_out) if s_out else _EMPTY
                end = np.concatenate(e_out) if e_out else _EMPTY
            out.append(FieldGrams(tuple(segments), None, start, end, folded, field_start[i]))
        return out

    def transform(self, X):
        indptr = [0]
        indices = []
        data = []
        for doc in X:
            text = doc["text"] if isinstance(doc, dict) else doc
            idx = self.indices(text)
            indices.append(idx)
            data.append(np.full(len(idx), 1.0 / np.sqrt(len(idx)) if len(idx) else 0.0))
            indptr.append(indptr[-1] + len(idx))
        m = sp.csr_matrix(
            (np.concatenate(data) if data else np.zeros(0), np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64), indptr),
            shape=(len(indptr) - 1, self.n_features),
        )
        m.sum_duplicates()
        return m


class RuleSignals(TransformerMixin, BaseEstimator):
    """The rule stage's signals (already computed, in ``doc["signals"]``) as dense columns."""

    def __init__(self, n_signals: int = 9, scale: float = 1.0):
        self.n_signals = n_signals
        self.scale = scale

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        rows = [np.asarray(d["signals"], dtype=float) * self.scale for d in X]
        return sp.csr_matrix(np.vstack(rows) if rows else np.zeros((0, self.n_signals)))


class ModelFeatures(TransformerMixin, BaseEstimator):
    """Hashed n-grams followed by the rule signals: the columns every model reads."""

    def __init__(self, ngrams: HashedNgrams | None = None, signals: RuleSignals | None = None):
        self.ngrams = ngrams
        self.signals = signals

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        ngrams = self.ngrams or HashedNgrams()
        signals = self.signals or RuleSignals()
        return sp.hstack([ngrams.transform(X), signals.transform(X)], format="csr")
