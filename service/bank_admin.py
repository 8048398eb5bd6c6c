"""Hash-bank administration: banks and entries, in one transaction each, applied to the matcher on commit.

``BankAdmin`` is what the ``/v1/banks`` routes call. Every change is audited
(``bank.*`` actions) and reaches this process's matcher as soon as it commits
(``HashBanks.apply``); other processes pick it up on their next refresh. Adding
entries to a positive bank also matches them against stored items
(``service.bank_retro``); removing or quarantining one decides again the stored
items it blocked or held (``bank_retro.release_entry``). ``add_image_entry``
makes an entry from an image: its PDQ hash plus the variant hashes of edited
copies (``classifiers.hashing.variants``), so lightly edited copies match too.
"""

from __future__ import annotations

from types import SimpleNamespace

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from classifiers.hashing.pdq import ImageError
from classifiers.hashing.variants import compute_pdq_with_variants
from service.bank_retro import release_entry, retro_match
from service.bank_schemas import BankCreate, BankUpdate, EntryCreate, EntryError, EntryUpdate, check_entry
from service.banks import HashBanks, bank_public, entry_info, entry_public
from service.db import audit
from service.db import banks as q
from service.db.bank_models import HashBank, HashBankEntry
from service.db.models import utcnow
from service.errors import ApiError

LISTED = 100  # entries listed in an "added" answer

# What each refusal of classifiers.hashing.pdq becomes (POST /v1/media/hash and image entries).
IMAGE_REFUSALS = {
    "empty": (422, "empty_image"),
    "unsupported": (415, "unsupported_image_type"),
    "corrupt": (422, "invalid_image"),
    "too_large": (413, "image_too_many_pixels"),
}


def image_api_error(exc: ImageError, field: str = "file") -> ApiError:
    status, code = IMAGE_REFUSALS.get(exc.reason, (422, "invalid_image"))
    return ApiError(status, code, str(exc), field)


def media_hash_dict(digest, variants=None) -> dict:
    """The answer of ``POST /v1/media/hash`` (``variants``: a list of ``Variant`` or None)."""
    out = {"pdq": digest.hash_hex, "quality": digest.quality, "useful": digest.useful, "format": digest.image_format,
           "width": digest.width, "height": digest.height}
    if variants is not None:
        out["variants"] = [{"kind": v.kind, "pdq": v.hash_hex} for v in variants]
    return out


class BankAdmin:
    """Bank and entry operations over one ``HashBanks``; ``moderator`` re-moderates items an entry removal releases."""

    def __init__(self, banks: HashBanks, moderator=None) -> None:
        self.banks = banks
        self.moderator = moderator

    # -- banks ------------------------------------------------------------------------------

    def _bank(self, session, name: str) -> HashBank:
        bank = q.get_bank(session, name)
        if bank is None:
            raise ApiError(404, "bank_not_found", f"no hash bank named {name!r}", "name")
        return bank

    def list_banks(self, *, publisher: str | None = None) -> list[dict]:
        with self.banks.storage.session() as session:
            counts = q.entry_counts(session)
            return [bank_public(b, counts.get(b.id, {})) for b in q.list_banks(session, publisher=publisher)]

    def get_bank(self, name: str) -> dict:
        with self.banks.storage.session() as session:
            bank = self._bank(session, name)
            return bank_public(bank, q.entry_counts(session).get(bank.id, {}))

    def bank_row(self, name: str) -> HashBank:
        with self.banks.storage.session() as session:
            return self._bank(session, name)

    def create_bank(self, data: BankCreate, *, actor: str | None) -> dict:
        settings = self.banks.settings
        threshold = data.flood_threshold if "flood_threshold" in data.model_fields_set else settings.bank_flood_threshold
        bank = HashBank(name=data.name, publisher=data.publisher, kind=data.kind, distance=data.distance,
                        flood_threshold=threshold,
                        flood_window_seconds=data.flood_window_seconds or settings.bank_flood_window_seconds,
                        description=data.description)
        try:
            with self.banks.storage.session() as session:
                if q.get_bank(session, data.name) is not None:
                    raise ApiError(409, "bank_exists", f"a hash bank named {data.name!r} exists", "name")
                session.add(bank)
                session.flush()
                audit.record(session, action="bank.create", actor=actor, publisher=bank.publisher,
                             after=_settings_of(bank))
        except IntegrityError:
            raise ApiError(409, "bank_exists", f"a hash bank named {data.name!r} exists", "name") from None
        self.banks.apply(bank=bank)
        return bank_public(bank, {})

    def update_bank(self, name: str, data: BankUpdate, *, actor: str | None) -> dict:
        with self.banks.storage.session() as session:
            bank = self._bank(session, name)
            before = _settings_of(bank)
            for key in data.model_fields_set:
                value = getattr(data, key)
                if value is None and key != "flood_threshold" and key != "description":
                    continue
                setattr(bank, key, value)
            bank.updated_at = utcnow()
            session.add(bank)
            audit.record(session, action="bank.update", actor=actor, publisher=bank.publisher, before=before,
                         after=_settings_of(bank))
            counts = q.entry_counts(session).get(bank.id, {})
        self.banks.apply(bank=bank)
        return bank_public(bank, counts)

    # -- entries ----------------------------------------------------------------------------

    def list_entries(self, name: str | None, *, status: str | None, after_id: int, limit: int) -> dict:
        with self.banks.storage.session() as session:
            bank_id = self._bank(session, name).id if name is not None else None
            rows = q.list_entries(session, bank_id, status=status, after_id=after_id, limit=limit)
            names = {b.id: b.name for b in q.list_banks(session)}
        return {"entries": [entry_public(r, names.get(r.bank_id, "?")) for r in rows],
                "next_after_id": rows[-1].id if len(rows) == limit else None}

    def get_entry(self, name: str, entry_id: int) -> dict:
        with self.banks.storage.session() as session:
            bank = self._bank(session, name)
            return entry_public(self._entry(session, bank, entry_id), bank.name)

    @staticmethod
    def _entry(session, bank: HashBank, entry_id: int) -> HashBankEntry:
        entry = session.get(HashBankEntry, entry_id)
        if entry is None or entry.bank_id != bank.id:
            raise ApiError(404, "entry_not_found", f"bank {bank.name!r} has no entry {entry_id}", "entry_id")
        return entry

    def add_entries(self, name: str, entries: list[EntryCreate], *, actor: str | None, single: bool = False,
                    where: str = "entries") -> dict:
        """Add entries (all or none); hashes already in the bank are left alone; then match stored items."""
        try:
            with self.banks.storage.session() as session:
                bank = self._bank(session, name)
                added, unchanged = self._insert(session, bank, entries, actor=actor, single=single, where=where)
                audit.record(session, action="bank.entries_add", actor=actor, publisher=bank.publisher,
                             after={"bank": bank.name, "added": len(added), "unchanged": unchanged,
                                    "entry_ids": [e.id for e in added[:LISTED]]})
        except IntegrityError:
            raise ApiError(409, "entry_conflict", "another request added the same hashes; retry", "pdq") from None
        self.banks.apply(bank=bank, active=[e for e in added if e.status == "active"],
                         inactive=[e.id for e in added if e.status != "active"])  # type: ignore[misc]
        retro = retro_match(self.banks, bank, [entry_info(e) for e in added if e.status == "active"], actor=actor)
        return {"added": len(added), "unchanged": unchanged,
                "entries": [entry_public(e, bank.name) for e in added[:LISTED]], "retro": retro}

    def add_image_entry(self, name: str, data: bytes, fields: dict, *, actor: str | None) -> dict:
        """Make an entry from an image: its PDQ hash, with the variant hashes of edited copies; an ImageEntryAdded dict.

        ``fields``: the entry's other fields (label, severity, actors, action, source, note).
        Refuses images that are not JPEG/PNG/GIF/WebP/BMP, fail to decode, or whose hash is
        too weak to match (quality below 50: flat images).
        """
        self.bank_row(name)  # 404 before the work of hashing
        settings = self.banks.settings
        if len(data) > settings.media_max_upload_bytes:
            raise ApiError(413, "payload_too_large", f"the image exceeds {settings.media_max_upload_bytes} bytes", "file")
        try:
            digest, variants = compute_pdq_with_variants(data)
        except ImageError as exc:
            raise image_api_error(exc) from None
        if not digest.useful:
            raise ApiError(422, "image_not_useful", f"the image's PDQ quality is {digest.quality} (below 50: a flat or "
                           "featureless image whose hash would match unrelated pictures)", "file")
        raw = {k: v for k, v in fields.items() if v not in (None, "", [])}
        try:
            entry = EntryCreate.model_validate({**raw, "pdq": digest.hash_hex, "variants": [v.hash_hex for v in variants]})
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise ApiError(422, "invalid_entry", f"{loc}: {err['msg']}", loc or "body") from None
        added = self.add_entries(name, [entry], actor=actor, single=True)
        return {**added, "image": media_hash_dict(digest)}

    @staticmethod
    def _insert(session, bank: HashBank, entries: list[EntryCreate], *, actor, single: bool, where: str):
        checked = []
        for i, entry in enumerate(entries):
            try:
                checked.append(check_entry(entry, bank.kind))
            except EntryError as exc:
                field = exc.field if single else f"{where}.{i}.{exc.field}"
                raise ApiError(422, "invalid_entry", f"{field}: {exc}", field) from None
        first: dict[str, dict] = {}
        for columns in checked:  # a hash twice in one request: the first one counts
            if columns["pdq"] in first and single:
                raise ApiError(409, "entry_exists", "the same hash appears twice", "pdq")
            first.setdefault(columns["pdq"], columns)
        unchanged = len(checked) - len(first)
        if single:  # say which entry has the hash already (a bulk import counts them instead)
            row = q.entries_by_pdq(session, bank.id, list(first)).get(next(iter(first)))
            if row is not None and row.status != "removed":
                raise ApiError(409, "entry_exists", f"bank {bank.name!r} already has this hash (entry {row.id})", "pdq")
        now = utcnow()
        rows = [{**columns, "bank_id": bank.id, "created_by": actor, "status_reason": None, "created_at": now,
                 "updated_at": now} for columns in first.values()]
        inserted = q.insert_new_entries(session, rows)  # bulk: ORM objects cost ~0.3 ms each
        added: list = [SimpleNamespace(id=inserted[r["pdq"]], **r) for r in rows if r["pdq"] in inserted]
        conflicts = [pdq for pdq in first if pdq not in inserted]
        for pdq, row in q.entries_by_pdq(session, bank.id, conflicts).items() if conflicts else ():
            if row.status != "removed":
                unchanged += 1
                continue
            for key, value in first[pdq].items():  # a removed hash added again
                setattr(row, key, value)
            row.status_reason, row.created_by, row.updated_at = None, actor, now
            session.add(row)
            added.append(row)
        session.flush()
        return added, unchanged

    def update_entry(self, name: str, entry_id: int, data: EntryUpdate, *, actor: str | None) -> dict:
        with self.banks.storage.session() as session:
            bank = self._bank(session, name)
            entry = self._entry(session, bank, entry_id)
            before = {"bank": bank.name, "entry_id": entry.id, "status": entry.status, "note": entry.note}
            if data.note is not None:
                entry.note = data.note
            if data.status is not None and data.status != entry.status:
                if data.status == "active":
                    q.clear_hits(session, entry.id)  # reviewed: the flood count starts afresh
                q.set_status(session, entry, data.status, data.reason)
            entry.updated_at = utcnow()
            session.add(entry)
            audit.record(session, action="bank.entry_update", actor=actor, publisher=bank.publisher, before=before,
                         after={"bank": bank.name, "entry_id": entry.id, "status": entry.status, "note": entry.note,
                                "reason": data.reason})
        if entry.status == "active":
            self.banks.apply(active=[entry])
        else:
            self.banks.apply(inactive=[entry.id])  # type: ignore[list-item]
        answer = entry_public(entry, bank.name)
        if (entry.status, before["status"]) in (("removed", "active"), ("removed", "quarantined"), ("quarantined", "active")):
            answer["released"] = release_entry(self.banks, entry.id, removed=entry.status == "removed",  # type: ignore[arg-type]
                                               moderator=self.moderator, actor=actor)
        return answer

    def iter_export(self, name: str, *, statuses: tuple[str, ...]):
        """(bank, entries in pages) for an export; each page is read in its own short transaction."""
        bank = self.bank_row(name)

        def pages():
            after = 0
            while True:
                with self.banks.storage.session() as session:
                    rows = [r for r in q.list_entries(session, bank.id, after_id=after, limit=5000)]
                yield [r for r in rows if r.status in statuses]
                if len(rows) < 5000:
                    return
                after = rows[-1].id

        return bank, pages()


def _settings_of(bank: HashBank) -> dict:
    return {"bank": bank.name, "publisher": bank.publisher, "kind": bank.kind, "distance": bank.distance,
            "flood_threshold": bank.flood_threshold, "flood_window_seconds": bank.flood_window_seconds}
