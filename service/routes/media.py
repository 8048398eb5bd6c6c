"""POST /v1/media/hash: the PDQ hash of an uploaded image, to send as ``media[].pdq`` or add to a bank."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, File, Request, UploadFile

from classifiers.hashing.pdq import ImageError, compute_pdq
from service.bank_schemas import MediaHash
from service.deps import KeyInfo, require_role
from service.errors import ApiError
from service.schemas import ErrorResponse

router = APIRouter(prefix="/v1/media", tags=["media"])

# What each refusal of classifiers.hashing.pdq becomes.
_REFUSALS = {
    "empty": (422, "empty_image"),
    "unsupported": (415, "unsupported_image_type"),
    "corrupt": (422, "invalid_image"),
    "too_large": (413, "image_too_many_pixels"),
}


async def _multipart(request: Request) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", f"send the image as multipart/form-data (field `file`), got {ctype!r}",
                       "content-type")


@router.post("/hash", response_model=MediaHash, operation_id="media_hash", dependencies=[Depends(_multipart)], responses={
    401: {"model": ErrorResponse, "description": "No or unknown API key"},
    413: {"model": ErrorResponse, "description": "The file is larger than the limit, or the image has too many pixels"},
    415: {"model": ErrorResponse, "description": "Not multipart/form-data, or the bytes are not a JPEG, PNG, GIF, WebP or BMP image"},
    422: {"model": ErrorResponse, "description": "No file, an empty file, or an image that fails to decode"}})
async def media_hash(request: Request, key: Annotated[KeyInfo, Depends(require_role("cms", "moderator", "admin"))],
                     file: Annotated[UploadFile, File(description="The image (JPEG, PNG, GIF, WebP or BMP; type read from the bytes).")]) -> dict:
    """PDQ hash (64 hex) and quality of an image; below quality 50 the hash is too weak to match reliably."""
    limit = request.app.state.settings.media_max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"the image exceeds {limit} bytes", "file")
    try:
        digest = await anyio.to_thread.run_sync(compute_pdq, data)
    except ImageError as exc:
        status, code = _REFUSALS.get(exc.reason, (422, "invalid_image"))
        raise ApiError(status, code, str(exc), "file") from None
    return {"pdq": digest.hash_hex, "quality": digest.quality, "useful": digest.useful, "format": digest.image_format,
            "width": digest.width, "height": digest.height}
