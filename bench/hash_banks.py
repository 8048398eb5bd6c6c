"""Time hash banks end to end on a real database: import, load, match, retroactive scan.

Builds a bank of ``--entries`` random PDQ hashes through ``HashBanks.add_entries``
(the import path), stores ``--items`` items with one media hash each (the
``item_media`` table retroactive matching scans), then times a cold load of
every entry into a fresh matcher, matching a 10-media document, and adding
entries to a bank while the stored items are scanned. Prints one table.
SQLite in a temporary directory unless ``DATABASE_URL`` is set.
Run with ``python -m bench.hash_banks [--entries N] [--items M]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from classifiers.document import build_document
from service.bank_admin import BankAdmin
from service.bank_schemas import BankCreate, EntryCreate
from service.banks import HashBanks
from service.config import Settings
from service.db import items as item_queries
from service.storage import Storage


def random_hash(rng: random.Random) -> str:
    return rng.randbytes(32).hex()


def flip(hash_hex: str, bits: int, rng: random.Random) -> str:
    raw = bytearray.fromhex(hash_hex)
    for bit in rng.sample(range(256), bits):
        raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="modlabel-bench-banks-"))
    settings = Settings(data_dir=tmp, classifier_enabled=False, bootstrap_admin=False, outbox_enabled=False,
                        migrate_on_start=True, DATABASE_URL=os.environ.get("DATABASE_URL"))
    storage = Storage(settings)
    storage.migrate()
    banks = HashBanks(storage, settings)
    admin = BankAdmin(banks)
    name = f"bench-{rng.randrange(10**9)}"
    admin.create_bank(BankCreate(name=name, flood_threshold=None), actor="bench")
    rows: list[tuple[str, str]] = []

    pdqs = [random_hash(rng) for _ in range(args.entries)]
    start = time.perf_counter()
    for chunk in range(0, len(pdqs), 20_000):
        entries = [EntryCreate(pdq=p, label="extremist_source", actors=["Islamic State"]) for p in pdqs[chunk:chunk + 20_000]]
        admin.add_entries(name, entries, actor="bench")
    rows.append((f"import {args.entries:,} entries (20k per request), s", f"{time.perf_counter() - start:.2f}"))

    start = time.perf_counter()
    with storage.session() as session:
        for n in range(args.items):
            media_pdq = flip(pdqs[n], 8, rng) if n < 50 else random_hash(rng)
            item = {"id": f"bench-{n}", "publisher": "bench", "type": "media", "media": [{"id": "m1", "pdq": media_pdq}]}
            result = {"item_id": item["id"], "content_hash": f"{n:064x}", "decision": "publish", "labels": [],
                      "disclaimers": [], "policy_version": "bench", "model_version": "bench"}
            item_queries.store_result(session, publisher="bench", item_id=item["id"], result=result, source="api",
                                      content=item)
    rows.append((f"store {args.items:,} items with a media hash, s", f"{time.perf_counter() - start:.2f}"))

    fresh = HashBanks(storage, settings)
    start = time.perf_counter()
    fresh.refresh()
    rows.append((f"cold load of every entry ({len(fresh.matcher):,}), s", f"{time.perf_counter() - start:.2f}"))
    start = time.perf_counter()
    applied = fresh.refresh()
    rows.append((f"refresh just after: {len(fresh._recent):,} recent versions compared, {applied} rows fetched, ms",
                 f"{(time.perf_counter() - start) * 1000:.1f}"))
    fresh._recent.clear()
    fresh._watermark = fresh._watermark + timedelta(hours=1)  # as if nothing changed for a while
    start = time.perf_counter()
    fresh.refresh()
    rows.append(("refresh with nothing changed, ms", f"{(time.perf_counter() - start) * 1000:.1f}"))

    docs = [build_document({"type": "media", "media": [
        {"id": f"m{i}", "pdq": flip(pdqs[rng.randrange(len(pdqs))], 10, rng) if i == 0 else random_hash(rng)}
        for i in range(10)]}) for _ in range(200)]
    times = []
    for doc in docs:
        t0 = time.perf_counter()
        votes, blocked = fresh.match(doc, "bench")
        times.append((time.perf_counter() - t0) * 1000)
        assert blocked and len(votes) == 1
    rows.append(("match a 10-media document, median ms", f"{statistics.median(times):.3f}"))

    admin.create_bank(BankCreate(name=name + "-retro", flood_threshold=None), actor="bench")
    start = time.perf_counter()
    outcome = admin.add_entries(name + "-retro", [EntryCreate(pdq=pdqs[0], label="graphic_violence", severity="graphic")],
                                actor="bench")
    rows.append((f"add 1 entry + retro scan of {outcome['retro']['media_scanned']:,} media, s",
                 f"{time.perf_counter() - start:.2f}"))
    start = time.perf_counter()
    outcome = admin.add_entries(name + "-retro", [EntryCreate(pdq=p, label="graphic_violence", severity="graphic")
                                                  for p in pdqs[1:1000]], actor="bench")
    rows.append((f"add 999 entries + retro scan (items held: {outcome['retro']['items_held'] + 1}), s",
                 f"{time.perf_counter() - start:.2f}"))
    storage.dispose()

    width = max(len(label) for label, _ in rows)
    print(f"| {'hash banks (' + storage.engine.dialect.name + ')':<{width}} | {'value':>8} |")
    print(f"|{'-' * (width + 2)}|{'-' * 10}|")
    for label, value in rows:
        print(f"| {label:<{width}} | {value:>8} |")


if __name__ == "__main__":
    main()
