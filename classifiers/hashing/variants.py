"""Variant hashes: what makes a bank entry made from an image match lightly edited copies of it.

PDQ survives re-encoding, resizing and brightness changes, but not geometry: a
5% crop moves a hash by 40-60 bits and a 2 degree rotation by 25-60, beyond the
usual match distance of 31. Hash-sharing systems answer this on the bank side:
when an entry is made from the image itself, the hashes of a few geometric
edits of that image are stored with it, and a query matches the entry when it
lies within the bank's distance of *any* of them (the entry, not the variant,
is reported, at the smallest distance).

The variants (:data:`VARIANT_KINDS`, 28 besides the original):

* centre crops of 3, 5 and 8% (of the width and of the height);
* rotations by +-1, +-2 and +-3 degrees (corners filled black, as editors that
  do not crop leave them), alone and on each crop;
* the mirror image (left-right flip).

Copies edited by amounts between the grid points (a 4% crop, a 2.5 degree
turn, a 5% crop plus a 2 degree turn saved as JPEG quality 30) land within
about 25 bits of the nearest variant (``tests/test_pdq.py``). More hashes per
entry mean more chances of a false match: the tests measure unrelated images
against every variant (nearest about 90 bits, against the 31 allowed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

from classifiers.hashing.pdq import (
    DEFAULT_HASH_PIXEL_BUDGET,
    DEFAULT_MAX_PIXELS,
    PdqHash,
    to_rgb,
    open_image,
)

CROPS = (0.03, 0.05, 0.08)  # fraction of width and height removed, half on each side
ROTATIONS = (-3, -2, -1, 1, 2, 3)  # degrees, counter-clockwise
# Variants are computed on a copy whose longer side is at most this (PDQ works on 64 x 64 anyway).
VARIANT_SIDE = 1024
# Hashes an entry may carry besides its own (the matcher gives each entry 64 index slots).
MAX_VARIANTS = 63


def _grid() -> list[tuple[float, int, str]]:
    """(crop, angle, kind) of every crop/rotation variant."""
    grid = []
    for crop in (0.0, *CROPS):
        for angle in (0, *ROTATIONS):
            if crop or angle:
                parts = ([f"crop{round(crop * 100)}"] if crop else []) + ([f"rot{angle:+d}"] if angle else [])
                grid.append((crop, angle, "+".join(parts)))
    return grid


VARIANT_KINDS: tuple[str, ...] = (*(kind for _, _, kind in _grid()), "mirror")


@dataclass(frozen=True, slots=True)
class Variant:
    """The PDQ hash of one geometric edit of an image (``kind`` as in :data:`VARIANT_KINDS`)."""

    kind: str
    hash_hex: str
    quality: int


def _pdq(image: Image.Image) -> tuple[str, int]:
    pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    bits, quality = pdqhash.compute(pixels)
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex(), int(quality)


def centre_crop(image: Image.Image, fraction: float) -> Image.Image:
    """``image`` without ``fraction`` of its width and height, half on each side."""
    dx, dy = round(image.width * fraction / 2), round(image.height * fraction / 2)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def variant_images(rgb: Image.Image):
    """(kind, image) for each of :data:`VARIANT_KINDS`, from an RGB image."""
    for crop, angle, kind in _grid():
        base = centre_crop(rgb, crop) if crop else rgb
        yield kind, base.rotate(angle, resample=Image.Resampling.BILINEAR) if angle else base
    yield "mirror", rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def variants_of(rgb: Image.Image) -> list[Variant]:
    """The variant hashes of an RGB image, without repeats (nor the image's own hash)."""
    if max(rgb.size) > VARIANT_SIDE:
        scale = VARIANT_SIDE / max(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                         Image.Resampling.LANCZOS)
    own, _ = _pdq(rgb)
    seen = {own}
    out = []
    for kind, image in variant_images(rgb):
        hash_hex, quality = _pdq(image)
        if hash_hex not in seen:
            seen.add(hash_hex)
            out.append(Variant(kind, hash_hex, quality))
    return out


def compute_pdq_with_variants(
    data: bytes | bytearray | memoryview,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    hash_pixel_budget: int = DEFAULT_HASH_PIXEL_BUDGET,
) -> tuple[PdqHash, list[Variant]]:
    """The image's PDQ hash (as :func:`compute_pdq` computes it) and its variant hashes.

    Raises :class:`~classifiers.hashing.pdq.ImageError` for bytes that are not a usable image.
    """
    image, image_format = open_image(data, max_pixels=max_pixels)
    with image:
        width, height = image.size
        rgb = to_rgb(image)
        hashed = rgb
        if width * height > hash_pixel_budget:
            hashed = rgb.reduce(math.ceil(math.sqrt(width * height / hash_pixel_budget)))
        hash_hex, quality = _pdq(hashed)
        variants = [v for v in variants_of(rgb) if v.hash_hex != hash_hex]
    return PdqHash(hash_hex, quality, image_format, width, height), variants
