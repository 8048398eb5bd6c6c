"""Bank entries as CSV and JSON: export (streamed in pages) and import (validated, all or nothing).

CSV columns: ``id, pdq, label, severity, actors, action, source, note, status,
status_reason, created_at, variants``; ``actors`` and ``variants`` (hashes of
edited copies of the entry's image) are joined with ``|``. Import reads
``pdq`` (required), ``label``, ``severity``, ``actors``, ``action``, ``source``,
``note``, ``status``, ``variants`` and ignores the columns export adds for information
(``id``, ``status_reason``, ``created_at``, ``updated_at``, ``created_by``, ``bank``);
any other column is refused, so a misspelt header fails loudly.

Cells that a spreadsheet would run as a formula (starting ``= + - @``, tab or
carriage return) are written with a leading ``'``, which import removes again:
an export imports back unchanged.

JSON export: ``{"bank": {...settings}, "entries": [...]}``; import takes that
object or a bare list of entries.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import orjson
from pydantic import ValidationError

from service.bank_schemas import EntryCreate
from service.db.bank_models import HashBank, HashBankEntry
from service.errors import ApiError

CSV_COLUMNS = ("id", "pdq", "label", "severity", "actors", "action", "source", "note", "status", "status_reason",
               "created_at", "variants")
IMPORT_FIELDS = ("pdq", "label", "severity", "actors", "action", "source", "note", "status", "variants")
INFORMATIONAL = frozenset(("id", "status_reason", "created_at", "updated_at", "created_by", "bank"))
ACTOR_SEPARATOR = "|"
MAX_IMPORT_ROWS = 200_000
# Export's ``status`` choices: the entry statuses each stands for.
STATUS_SETS = {"active": ("active",), "quarantined": ("quarantined",), "removed": ("removed",),
               "current": ("active", "quarantined"), "all": ("active", "quarantined", "removed")}
_FORMULA_START = frozenset("=+-@\t\r")


def _escape(cell: str) -> str:
    if cell and (cell[0] in _FORMULA_START or (cell[0] == "'" and len(cell) > 1 and cell[1] in _FORMULA_START | {"'"})):
        return "'" + cell
    return cell


def _unescape(cell: str) -> str:
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_START | {"'"}:
        return cell[1:]
    return cell


def _entry_row(entry: HashBankEntry) -> dict:
    return {
        "id": entry.id, "pdq": entry.pdq, "label": entry.label, "severity": entry.severity,
        "actors": list(entry.actors or ()), "action": entry.action, "source": entry.source, "note": entry.note,
        "status": entry.status, "status_reason": entry.status_reason, "created_at": entry.created_at.isoformat(),
        "variants": list(entry.variants or ()),
    }


def bank_settings(bank: HashBank) -> dict:
    return {"name": bank.name, "publisher": bank.publisher, "kind": bank.kind, "distance": bank.distance,
            "flood_threshold": bank.flood_threshold, "flood_window_seconds": bank.flood_window_seconds,
            "description": bank.description}


# -- export ---------------------------------------------------------------------------------


def export_csv(pages: Iterable[list[HashBankEntry]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for page in pages:
        for entry in page:
            row = _entry_row(entry)
            row["actors"] = ACTOR_SEPARATOR.join(row["actors"])
            row["variants"] = ACTOR_SEPARATOR.join(row["variants"])
            writer.writerow([_escape("" if row[c] is None else str(row[c])) for c in CSV_COLUMNS])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    tail = buffer.getvalue()
    if tail:
        yield tail.encode("utf-8")


def export_json(bank: HashBank, pages: Iterable[list[HashBankEntry]]) -> Iterator[bytes]:
    yield b'{"bank":' + orjson.dumps(bank_settings(bank)) + b',"entries":['
    first = True
    for page in pages:
        if not page:
            continue
        chunk = b",".join(orjson.dumps(_entry_row(e)) for e in page)
        yield chunk if first else b"," + chunk
        first = False
    yield b"]}"


# -- import ---------------------------------------------------------------------------------


def parse_import(body: bytes, fmt: str) -> tuple[list[EntryCreate], str]:
    """Entries of an import body, and the field prefix errors name ("rows" for CSV, "entries" for JSON)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(422, "invalid_import", f"the import is not UTF-8: {exc}", "body") from None
    if fmt == "csv":
        return _parse_csv(text), "rows"
    return _parse_json(text), "entries"


def _parse_csv(text: str) -> list[EntryCreate]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ApiError(422, "invalid_import", "the CSV is empty: a header row with at least `pdq` is needed", "rows") from None
    except csv.Error as exc:
        raise ApiError(422, "invalid_import", f"line 1: {exc}", "rows") from None
    unknown = [h for h in header if h not in IMPORT_FIELDS and h not in INFORMATIONAL]
    if unknown:
        raise ApiError(422, "invalid_import", f"unknown CSV column(s) {unknown}; known: {list(IMPORT_FIELDS)}", "rows")
    if "pdq" not in header:
        raise ApiError(422, "invalid_import", "the CSV header needs a `pdq` column", "rows")
    entries: list[EntryCreate] = []
    try:
        for i, cells in enumerate(reader):
            if not any(c.strip() for c in cells):
                continue
            if len(entries) >= MAX_IMPORT_ROWS:
                raise ApiError(422, "import_too_large", f"more than {MAX_IMPORT_ROWS} rows; split the import", "rows")
            if len(cells) != len(header):
                raise ApiError(422, "invalid_import", f"line {reader.line_num}: {len(cells)} cells for {len(header)} "
                               "columns", f"rows.{i}")
            raw = {h: _unescape(c) for h, c in zip(header, cells) if h in IMPORT_FIELDS and c != ""}
            for listed in ("actors", "variants"):
                if listed in raw:
                    raw[listed] = [a.strip() for a in raw[listed].split(ACTOR_SEPARATOR) if a.strip()]
            entries.append(_entry(raw, f"rows.{i}", f"line {reader.line_num}"))
    except csv.Error as exc:
        raise ApiError(422, "invalid_import", f"line {reader.line_num}: {exc}", "rows") from None
    return entries


def _parse_json(text: str) -> list[EntryCreate]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("entries")
    if not isinstance(data, list):
        raise ApiError(422, "invalid_import", "expected a list of entries or an object with `entries`", "entries")
    if len(data) > MAX_IMPORT_ROWS:
        raise ApiError(422, "import_too_large", f"more than {MAX_IMPORT_ROWS} entries; split the import", "entries")
    entries = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise ApiError(422, "invalid_import", f"entries.{i}: an object is expected", f"entries.{i}")
        raw = {k: v for k, v in raw.items() if k not in INFORMATIONAL and v is not None}
        entries.append(_entry(raw, f"entries.{i}", f"entries.{i}"))
    return entries


def _entry(raw: dict, field: str, where: str) -> EntryCreate:
    try:
        return EntryCreate.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ApiError(422, "invalid_entry", f"{where}: {loc}: {err['msg']}", f"{field}.{loc}" if loc else field) from None
