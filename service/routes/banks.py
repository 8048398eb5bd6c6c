"""Hash banks (admin keys): banks, entries, bulk import and export as CSV or JSON.

A global bank (no publisher) is changed only by a global admin key; a
publisher's bank by that publisher's admin keys too. Every change is audited
(``bank.*`` actions).
"""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from starlette.responses import StreamingResponse

from service.bank_admin import BankAdmin
from service.bank_io import STATUS_SETS, export_csv, export_json, parse_import
from service.bank_schemas import (
    BankCreate,
    BankName,
    BankPublic,
    BankUpdate,
    EntriesAdded,
    EntryChanged,
    EntryCreate,
    EntryList,
    EntryPublic,
    EntryUpdate,
    ImageEntryAdded,
)
from service.deps import KeyInfo, require_json, require_role
from service.errors import ApiError
from service.routes.media import require_multipart
from service.schemas import ERROR_RESPONSES, MAX_ID, RATE_LIMITED, ErrorResponse

router = APIRouter(prefix="/v1/banks", tags=["hash banks"])
entries_router = APIRouter(prefix="/v1/bank-entries", tags=["hash banks"])

AdminKey = Annotated[KeyInfo, Depends(require_role("admin"))]
NamePath = Annotated[BankName, Path(description="The bank's name.")]
EntryPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The entry's id.")]
RESPONSES = {**ERROR_RESPONSES,
             401: {"model": ErrorResponse, "description": "No or unknown API key"},
             403: {"model": ErrorResponse, "description": "Not an admin key, or not this bank's publisher"},
             404: {"model": ErrorResponse, "description": "No such bank or entry"},
             409: {"model": ErrorResponse, "description": "The bank or the hash exists already"},
             **RATE_LIMITED}


def _banks(request: Request) -> BankAdmin:
    services = request.app.state.services
    return BankAdmin(services.banks, moderator=services.moderator)


def _may_change(key: KeyInfo, publisher: str | None) -> None:
    if publisher is None and key.publisher is not None:
        raise ApiError(403, "forbidden_publisher", "only a global admin key may change a global bank", "publisher")
    if publisher is not None and not key.may_act_for(publisher):
        raise ApiError(403, "forbidden_publisher", f"this key belongs to publisher {key.publisher!r}, not {publisher!r}",
                       "publisher")


def _may_read(key: KeyInfo, publisher: str | None) -> None:
    if publisher is not None and not key.may_act_for(publisher):
        raise ApiError(403, "forbidden_publisher", f"this key belongs to publisher {key.publisher!r}, not {publisher!r}",
                       "publisher")


def _checked(banks, name: str, key: KeyInfo, *, change: bool):
    bank = banks.bank_row(name)
    (_may_change if change else _may_read)(key, bank.publisher)
    return bank


@router.get("", response_model=list[BankPublic], operation_id="list_banks", responses=RESPONSES)
def list_banks(request: Request, key: AdminKey,
               publisher: Annotated[str | None, Query(max_length=64, description="Only this publisher's banks.")] = None) -> list[dict]:
    """Banks this key may see (global ones and its publisher's), with entry counts per status."""
    banks = _banks(request).list_banks(publisher=publisher)
    return [b for b in banks if b["publisher"] is None or key.may_act_for(b["publisher"])]


@router.post("", response_model=BankPublic, status_code=201, operation_id="create_bank", responses=RESPONSES,
             dependencies=[require_json])
def create_bank(request: Request, key: AdminKey, data: BankCreate) -> dict:
    """Create a bank: global (no publisher) or one publisher's; positive (label, block or hold) or negative (known-good)."""
    _may_change(key, data.publisher)
    return _banks(request).create_bank(data, actor=key.id)


@router.get("/{name}", response_model=BankPublic, operation_id="get_bank", responses=RESPONSES)
def get_bank(request: Request, key: AdminKey, name: NamePath) -> dict:
    """One bank's settings and entry counts."""
    banks = _banks(request)
    _checked(banks, name, key, change=False)
    return banks.get_bank(name)


@router.patch("/{name}", response_model=BankPublic, operation_id="update_bank", responses=RESPONSES,
              dependencies=[require_json])
def update_bank(request: Request, key: AdminKey, name: NamePath, data: BankUpdate) -> dict:
    """Change a bank's match distance, flood settings or description."""
    banks = _banks(request)
    _checked(banks, name, key, change=True)
    return banks.update_bank(name, data, actor=key.id)


@router.get("/{name}/entries", response_model=EntryList, operation_id="list_bank_entries", responses=RESPONSES)
def list_entries(
    request: Request, key: AdminKey, name: NamePath,
    status: Annotated[Literal["active", "quarantined", "removed"] | None, Query()] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="Entries with a larger id (pagination).")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """A bank's entries by id, optionally of one status."""
    banks = _banks(request)
    _checked(banks, name, key, change=False)
    return banks.list_entries(name, status=status, after_id=after_id, limit=limit)


@router.post("/{name}/entries", response_model=EntriesAdded, status_code=201, operation_id="add_bank_entry",
             responses=RESPONSES, dependencies=[require_json])
def add_entry(request: Request, key: AdminKey, name: NamePath, entry: EntryCreate) -> dict:
    """Add one hash; stored items whose media match it are sent to hold_for_review (``retro``)."""
    banks = _banks(request)
    _checked(banks, name, key, change=True)
    return banks.add_entries(name, [entry], actor=key.id, single=True)


@router.post("/{name}/entries/image", response_model=ImageEntryAdded, status_code=201, operation_id="add_bank_entry_from_image",
             dependencies=[Depends(require_multipart)], responses={
    **RESPONSES, 413: {"model": ErrorResponse, "description": "The file is larger than the limit, or the image has too many pixels"},
    415: {"model": ErrorResponse, "description": "Not multipart/form-data, or not a JPEG, PNG, GIF, WebP or BMP image"}})
async def add_entry_from_image(
    request: Request, key: AdminKey, name: NamePath,
    file: Annotated[UploadFile, File(description="The image (JPEG, PNG, GIF, WebP or BMP; type read from the bytes).")],
    label: Annotated[Literal["extremist_source", "graphic_violence"] | None, Form()] = None,
    severity: Annotated[Literal["graphic", "extreme"] | None, Form()] = None,
    actors: Annotated[list[str] | None, Form(description="Repeat the field for several actors.")] = None,
    action: Annotated[Literal["block", "hold_for_review", "allow"] | None, Form()] = None,
    source: Annotated[str | None, Form(max_length=256)] = None,
    note: Annotated[str | None, Form(max_length=4000)] = None,
) -> dict:
    """Add an entry made from an image: its PDQ hash plus the hashes of edited copies (crops of 3-8%, rotations of
    1-3 degrees, the mirror image) as ``variants``, so lightly edited copies match it too. Then, like adding a hash,
    stored items whose media match it are sent to hold_for_review (``retro``)."""
    banks = _banks(request)
    await anyio.to_thread.run_sync(lambda: _checked(banks, name, key, change=True))
    limit = request.app.state.settings.media_max_upload_bytes
    data = await file.read(limit + 1)
    fields = {"label": label, "severity": severity, "actors": actors, "action": action, "source": source, "note": note}
    return await anyio.to_thread.run_sync(lambda: banks.add_image_entry(name, data, fields, actor=key.id))


@router.get("/{name}/entries/{entry_id:int}", response_model=EntryPublic, operation_id="get_bank_entry", responses=RESPONSES)
def get_entry(request: Request, key: AdminKey, name: NamePath, entry_id: EntryPath) -> dict:
    """One entry, with its status and the reason for it (e.g. a flood quarantine)."""
    banks = _banks(request)
    _checked(banks, name, key, change=False)
    return banks.get_entry(name, entry_id)


@router.patch("/{name}/entries/{entry_id:int}", response_model=EntryChanged, operation_id="update_bank_entry",
              responses=RESPONSES, dependencies=[require_json])
def update_entry(request: Request, key: AdminKey, name: NamePath, entry_id: EntryPath, data: EntryUpdate) -> dict:
    """Change an entry's status (restore a quarantined entry after review: ``active``) or its note.

    Removing or quarantining an entry decides again the stored items it had blocked or held (``released``)."""
    banks = _banks(request)
    _checked(banks, name, key, change=True)
    return banks.update_entry(name, entry_id, data, actor=key.id)


@router.delete("/{name}/entries/{entry_id:int}", response_model=EntryChanged, operation_id="remove_bank_entry",
               responses=RESPONSES)
def remove_entry(request: Request, key: AdminKey, name: NamePath, entry_id: EntryPath,
                 reason: Annotated[str | None, Query(max_length=2000)] = None) -> dict:
    """Remove an entry: it stops matching at once (kept with status ``removed`` for the record).

    The stored items it had blocked or held are moderated again without it (``released``)."""
    banks = _banks(request)
    _checked(banks, name, key, change=True)
    return banks.update_entry(name, entry_id, EntryUpdate(status="removed", reason=reason), actor=key.id)


@router.post("/{name}/import", response_model=EntriesAdded, operation_id="import_bank_entries", responses={
    **RESPONSES, 415: {"model": ErrorResponse, "description": "Neither text/csv nor application/json"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/EntryCreate"}}}}}})
async def import_entries(
    request: Request, key: AdminKey, name: NamePath,
    format: Annotated[Literal["csv", "json"] | None, Query(description="Default: from the Content-Type.")] = None,
) -> dict:
    """Add many entries from CSV or JSON (the export's format), all or none; known hashes are left as they are."""
    banks = _banks(request)
    await anyio.to_thread.run_sync(lambda: _checked(banks, name, key, change=True))
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = format or {"text/csv": "csv", "application/csv": "csv", "application/json": "json"}.get(ctype)
    if fmt is None:
        raise ApiError(415, "unsupported_media_type", f"send text/csv or application/json (or ?format=), got {ctype!r}",
                       "content-type")
    body = await request.body()
    entries, where = parse_import(body, fmt)
    return await anyio.to_thread.run_sync(lambda: banks.add_entries(name, entries, actor=key.id, where=where))


@router.get("/{name}/export", operation_id="export_bank_entries", responses={
    **RESPONSES, 200: {"description": "The entries", "content": {"text/csv": {"schema": {"type": "string"}},
                                                                 "application/json": {"schema": {"type": "object"}}}}})
def export_entries(
    request: Request, key: AdminKey, name: NamePath,
    format: Annotated[Literal["csv", "json"], Query()] = "csv",
    status: Annotated[Literal["active", "quarantined", "removed", "current", "all"], Query(
        description="current: active and quarantined.")] = "current",
) -> StreamingResponse:
    """A bank's entries as CSV or JSON, in a form that import takes back."""
    banks = _banks(request)
    _checked(banks, name, key, change=False)
    bank, pages = banks.iter_export(name, statuses=STATUS_SETS[status])
    if format == "csv":
        body, media_type = export_csv(pages), "text/csv; charset=utf-8"
    else:
        body, media_type = export_json(bank, pages), "application/json"
    return StreamingResponse(body, media_type=media_type,
                             headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'})


@entries_router.get("", response_model=EntryList, operation_id="list_all_bank_entries", responses=RESPONSES)
def list_all_entries(
    request: Request, key: AdminKey,
    status: Annotated[Literal["active", "quarantined", "removed"] | None, Query(
        description="quarantined: the entries waiting for review (e.g. flood quarantine).")] = None,
    after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """Entries of every bank this key may see, by id; ``status=quarantined`` is the review list."""
    if key.publisher is not None:
        raise ApiError(403, "forbidden_publisher", "listing the entries of every bank needs a global admin key; "
                       "use /v1/banks/{name}/entries", "authorization")
    return _banks(request).list_entries(None, status=status, after_id=after_id, limit=limit)
