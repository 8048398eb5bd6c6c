"""Perceptual hashing of images and exact Hamming-radius matching against hash banks.

``pdq``: validate image bytes and compute their PDQ hash (64 hex characters)
and quality; Hamming distance between hex hashes.
``index``: :class:`HashIndex`, exact radius search over millions of hashes.
"""

from classifiers.hashing.index import HashIndex, Match
from classifiers.hashing.pdq import (
    ALLOWED_FORMATS,
    MATCH_DISTANCE,
    MIN_USEFUL_QUALITY,
    ImageError,
    PdqHash,
    compute_pdq,
    hamming_distance,
    parse_hash_hex,
)

__all__ = [
    "ALLOWED_FORMATS",
    "MATCH_DISTANCE",
    "MIN_USEFUL_QUALITY",
    "HashIndex",
    "ImageError",
    "Match",
    "PdqHash",
    "compute_pdq",
    "hamming_distance",
    "parse_hash_hex",
]
