"""Perceptual hashing of images and exact Hamming-radius matching against hash banks.

``pdq``: validate image bytes and compute their PDQ hash (64 hex characters)
and quality; Hamming distance between hex hashes.
``variants``: the hashes of edited copies (crops, rotations, mirror) that a bank
entry made from an image carries, so lightly edited copies still match.
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
from classifiers.hashing.variants import VARIANT_KINDS, Variant, compute_pdq_with_variants

__all__ = [
    "ALLOWED_FORMATS",
    "MATCH_DISTANCE",
    "MIN_USEFUL_QUALITY",
    "HashIndex",
    "ImageError",
    "Match",
    "PdqHash",
    "VARIANT_KINDS",
    "Variant",
    "compute_pdq",
    "compute_pdq_with_variants",
    "hamming_distance",
    "parse_hash_hex",
]
