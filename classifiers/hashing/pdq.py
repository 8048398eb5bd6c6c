"""PDQ perceptual hashes of uploaded images, and the Hamming distance between them.

PDQ (Meta's photo hash, used for industry hash sharing) turns an image into 256
bits that survive re-encoding, resizing and small edits. Two hashes whose
Hamming distance is at most 31 are conventionally treated as the same picture.

The hex form is the one hash banks exchange: 64 lowercase hex characters, the
first character holding the hash's most significant bits (the same string
ThreatExchange's ``pdq_from_bytes`` produces).

Input bytes are untrusted. Before anything is decoded the type is identified
from the bytes themselves (only JPEG, PNG, GIF, WebP and BMP decoders are ever
tried), the declared size is checked against a pixel limit (decompression
bombs), and the file is structurally verified. Every refusal is an
:class:`ImageError` whose ``reason`` says which check failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from io import BytesIO

import numpy as np
import pdqhash
from PIL import Image, UnidentifiedImageError

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
HASH_HEX_CHARS = HASH_BITS // 4
# Conventional match threshold for PDQ (ThreatExchange, GIFCT hash sharing).
MATCH_DISTANCE = 31
# Hashes below this quality come from flat or featureless images; hash banks
# usually neither store nor match them.
MIN_USEFUL_QUALITY = 50

# Pillow format names of the decoders we allow, in the order they are tried.
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
# Refuse images declaring more pixels than this (about 8000 x 8000).
DEFAULT_MAX_PIXELS = 64_000_000
# pdqhash needs ~23 bytes of scratch memory per pixel; larger images are first
# box-reduced by an integer factor (which moves the hash by only a few bits).
DEFAULT_HASH_PIXEL_BUDGET = 16_000_000

_SIXTEEN_BIT_GREY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


class ImageError(ValueError):
    """An image that cannot be hashed.

    ``reason`` is one of ``"empty"``, ``"unsupported"`` (not a JPEG, PNG, GIF,
    WebP or BMP), ``"too_large"`` (more pixels than allowed) or ``"corrupt"``
    (recognised but fails verification or decoding).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PdqHash:
    """The PDQ hash of one image: hex digest, PDQ quality (0-100), and what was decoded."""

    hash_hex: str
    quality: int
    image_format: str
    width: int
    height: int

    @property
    def useful(self) -> bool:
        """Whether the quality is high enough for the hash to be matched against banks."""
        return self.quality >= MIN_USEFUL_QUALITY


def compute_pdq(
    data: bytes | bytearray | memoryview,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    hash_pixel_budget: int = DEFAULT_HASH_PIXEL_BUDGET,
) -> PdqHash:
    """Validate ``data`` as an image and return its PDQ hash and quality.

    Animated images are hashed on their first frame; transparency is dropped
    (as ThreatExchange's reference hasher does). Raises :class:`ImageError`.
    """
    image, image_format = open_image(data, max_pixels=max_pixels)
    with image:
        width, height = image.size
        rgb = to_rgb(image)
        if width * height > hash_pixel_budget:
            factor = math.ceil(math.sqrt(width * height / hash_pixel_budget))
            rgb = rgb.reduce(factor)
        pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    bits, quality = pdqhash.compute(pixels)
    hash_hex = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()
    return PdqHash(hash_hex, int(quality), image_format, width, height)


def open_image(
    data: bytes | bytearray | memoryview, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[Image.Image, str]:
    """Identify, size-check, verify and decode ``data``; return the loaded image and its format.

    Raises :class:`ImageError`. The caller owns (and should close) the image.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"image data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageError("empty", "image data is empty")

    # First pass: identify from the bytes, check the declared size, verify structure.
    with _open(data, ALLOWED_FORMATS) as probe:
        image_format = probe.format or ""
        if image_format not in ALLOWED_FORMATS:
            raise ImageError("unsupported", f"unsupported image type {image_format or 'unknown'}")
        _check_size(probe.size, max_pixels)
        try:
            probe.verify()
        except Exception as exc:  # Pillow raises many types for malformed files
            raise ImageError("corrupt", f"{image_format} image failed verification: {exc}") from exc

    # verify() leaves the image unusable: reopen (same decoder only) and decode.
    image = _open(data, (image_format,))
    try:
        _check_size(image.size, max_pixels)
        image.load()
    except ImageError:
        image.close()
        raise
    except Exception as exc:
        image.close()
        raise ImageError("corrupt", f"{image_format} image could not be decoded: {exc}") from exc
    return image, image_format


def parse_hash_hex(hash_hex: str) -> bytes:
    """The 32 bytes of a 64-character hex PDQ hash; raises ``ValueError`` if malformed."""
    if not isinstance(hash_hex, str) or len(hash_hex) != HASH_HEX_CHARS:
        raise ValueError(f"a PDQ hash is {HASH_HEX_CHARS} hex characters, got {hash_hex!r:.80}")
    try:
        raw = bytes.fromhex(hash_hex)
    except ValueError:
        raw = b""
    if len(raw) != HASH_BYTES:  # fromhex skips whitespace, so also check the length
        raise ValueError(f"not a hex PDQ hash: {hash_hex!r:.80}")
    return raw


def hamming_distance(a_hex: str, b_hex: str) -> int:
    """Number of differing bits between two hex PDQ hashes (0-256)."""
    a = int.from_bytes(parse_hash_hex(a_hex), "big")
    b = int.from_bytes(parse_hash_hex(b_hex), "big")
    return (a ^ b).bit_count()


def _open(data: bytes, formats: tuple[str, ...]) -> Image.Image:
    try:
        return Image.open(BytesIO(data), formats=list(formats))
    except UnidentifiedImageError as exc:
        if _has_allowed_signature(data):
            raise ImageError("corrupt", "image header could not be read") from exc
        raise ImageError("unsupported", "not a JPEG, PNG, GIF, WebP or BMP image") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError("too_large", f"image is too large: {exc}") from exc
    except Exception as exc:
        raise ImageError("corrupt", f"image header could not be read: {exc}") from exc


def _has_allowed_signature(data: bytes) -> bool:
    """Whether ``data`` starts with the magic bytes of an allowed format."""
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return True
    return data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM"))


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError("corrupt", f"image has invalid dimensions {width}x{height}")
    if width * height > max_pixels:
        raise ImageError("too_large", f"image is {width}x{height} pixels, more than the limit of {max_pixels}")


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit RGB (16-bit greyscale is scaled, not clipped)."""
    if image.mode in _SIXTEEN_BIT_GREY_MODES:
        grey = np.asarray(image).astype(np.int64)
        grey = (np.clip(grey, 0, 65535) >> 8).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if image.mode == "RGB":
        return image
    return image.convert("RGB")
