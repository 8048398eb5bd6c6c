"""POST /v1/media/hash: the PDQ hash of an uploaded image, to send as ``media[].pdq`` or add to a bank."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile

from classifiers.hashing.pdq import ImageError, compute_pdq
from classifiers.hashing.variants import compute_pdq_with_variants
from service.bank_admin import image_api_error, media_hash_dict
from service.bank_schemas import MediaHash
from service.deps import KeyInfo, require_role
from service.errors import ApiError
from service.schemas import RATE_LIMITED, ErrorResponse

router = APIRouter(prefix="/v1/media", tags=["media"])


async def require_multipart(request: Request) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", f"send the image as multipart/form-data (field `file`), got {ctype!r}",
                       "content-type")


@router.post("/hash", response_model=MediaHash, response_model_exclude_none=True, operation_id="media_hash",
             dependencies=[Depends(require_multipart)], responses={
    400: {"model": ErrorResponse, "description": "A malformed multipart body (`bad_request`)"},
    401: {"model": ErrorResponse, "description": "No or unknown API key"},
    413: {"model": ErrorResponse, "description": "The file is larger than the limit, or the image has too many pixels"},
    415: {"model": ErrorResponse, "description": "Not multipart/form-data, or the bytes are not a JPEG, PNG, GIF, WebP or BMP image"},
    422: {"model": ErrorResponse, "description": "No file, an empty file, or an image that fails to decode"},
    **RATE_LIMITED})
async def media_hash(request: Request, key: Annotated[KeyInfo, Depends(require_role("cms", "moderator", "admin"))],
                     file: Annotated[UploadFile, File(description="The image (JPEG, PNG, GIF, WebP or BMP; type read from the bytes).")],
                     variants: Annotated[bool, Query(description="Also the hashes of edited copies (crops, rotations, "
                                                     "mirror), to store with a bank entry.")] = False) -> dict:
    """PDQ hash (64 hex) and quality of an image; below quality 50 the hash is too weak to match reliably."""
    limit = request.app.state.settings.media_max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "payload_too_large", f"the image exceeds {limit} bytes", "file")
    try:
        if variants:
            digest, found = await anyio.to_thread.run_sync(compute_pdq_with_variants, data)
            return media_hash_dict(digest, found)
        digest = await anyio.to_thread.run_sync(compute_pdq, data)
    except ImageError as exc:
        raise image_api_error(exc) from None
    return media_hash_dict(digest)
