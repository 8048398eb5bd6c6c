"""Hashed word and character n-gram features, computed with numpy.

``HashedNgrams`` is a scikit-learn transformer with no learned state: each
n-gram is hashed (a polynomial hash over code points, mixed, modulo
``n_features``) and counted; a document's vector is its counts divided by the
square root of its n-gram total. The same code serves training and the lean
serving path, so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifiers.text import normalise

_P = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_MAX_CHARS = 200_000  # longer texts: the first part only (bounded work per document)


def _codes(text: str) -> np.ndarray:
    folded = " ".join(normalise(text[:_MAX_CHARS]).text.split())
    return np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _mix(h: np.ndarray, salt: int) -> np.ndarray:
    h = (h ^ np.uint64(salt)) * _MIX
    return h ^ (h >> np.uint64(29))


def _char_ngrams(c: np.ndarray, lo: int, hi: int) -> list[np.ndarray]:
    out = []
    n = len(c)
    for size in range(lo, hi + 1):
        if n < size:
            break
        h = c[: n - size + 1].copy()
        for k in range(1, size):
            h = h * _P + c[k: n - size + 1 + k]
        out.append(_mix(h, 0x100 + size))
    return out


def _is_word(c: np.ndarray) -> np.ndarray:
    # ASCII letters/digits, and any non-ASCII code point above Latin-1 punctuation.
    return ((c >= 48) & (c <= 57)) | ((c >= 97) & (c <= 122)) | ((c >= 65) & (c <= 90)) | (c >= 0xC0) | (c == 39)


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


def _word_ngrams(c: np.ndarray, max_n: int) -> list[np.ndarray]:
    if len(c) == 0:
        return []
    w = _is_word(c)
    edges = np.diff(np.concatenate(([False], w, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return []
    # word hash: sum of code * P^(position from word end), via prefix sums of c * Pinv^j
    n = len(c)
    powers, inv = _powers(n + 1)
    prefix = np.concatenate(([np.uint64(0)], np.cumsum(c * inv[:n], dtype=np.uint64)))
    words = (prefix[ends] - prefix[starts]) * powers[ends - 1]
    out = [_mix(words, 0x200)]
    for size in range(2, max_n + 1):
        if len(words) < size:
            break
        h = words[: len(words) - size + 1].copy()
        for k in range(1, size):
            h = h * _P + words[k: len(words) - size + 1 + k]
        out.append(_mix(h, 0x200 + size))
    return out


def word_spans(folded: str, max_n: int, n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(feature index, start, end) of every word n-gram of an already-normalised text.

    Whitespace runs hash like single spaces, so indices agree with ``HashedNgrams``.
    """
    empty = np.zeros(0, dtype=np.int64)
    raw = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    space = (raw == 32) | (raw == 10) | (raw == 9) | (raw == 13) | (raw == 12) | (raw == 11)
    prev_space = np.concatenate(([True], space[:-1]))
    keep = ~(space & prev_space)
    back = np.flatnonzero(keep)
    if len(back) and space[back[-1]]:
        back = back[:-1]  # trailing whitespace
    if len(back) == 0:
        return empty, empty, empty
    c = np.where(space[back], np.uint64(32), raw[back])
    w = _is_word(c)
    edges = np.diff(np.concatenate(([False], w, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    hashes = _word_ngrams(c, max_n)
    idx, s_out, e_out = [], [], []
    for size, h in enumerate(hashes, 1):
        idx.append(_bucket(h, n_features))
        s_out.append(back[starts[: len(h)]])
        e_out.append(back[ends[size - 1: size - 1 + len(h)] - 1] + 1)
    if not idx:
        return empty, empty, empty
    return np.concatenate(idx), np.concatenate(s_out), np.concatenate(e_out)


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
        parts = _word_ngrams(c, self.word_max_n) + _char_ngrams(c, self.char_min_n, self.char_max_n)
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return _bucket(np.concatenate(parts), self.n_features)

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

    def __init__(self, n_signals: int = 8, scale: float = 1.0):
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
