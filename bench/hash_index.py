"""Time PDQ hash-bank lookups: HashIndex (multi-index hashing) against a brute-force scan.

Builds a bank of ``--n`` 256-bit hashes (default 1,000,000), indexed the way
``BankMatcher`` indexes them (id ``entry * 64 + slot``): random entries of one
hash each, near-duplicate clusters, and ``--image-entries`` entries made from
images, each with ``--variants`` variant hashes 20-70 bits from its own (as
crops and rotations are; ``classifiers.hashing.variants``). Then times
``--queries`` lookups at distance 31 with the index (half near-duplicates of
planted hashes and variants, half random) and ``--brute-queries`` with the
brute-force scan, side by side in one run, and the same queries through
``BankMatcher.search`` (entry resolution included). Prints one table.
Run with ``python -m bench.hash_index [--n N]``.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections.abc import Callable

import numpy as np

from classifiers.hashing import MATCH_DISTANCE, HashIndex
from classifiers.hashing.matcher import SLOT_BITS, BankInfo, BankMatcher, EntryInfo
from classifiers.hashing.variants import VARIANT_KINDS

CLUSTERS = 200  # planted base hashes
VARIANTS = 4  # near-duplicates planted around each base, 1-31 bits away


def flip_bits(hash_hex: str, count: int, rng: random.Random) -> str:
    raw = bytearray.fromhex(hash_hex)
    for bit in rng.sample(range(256), count):
        raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


def make_bank(n: int, seed: int) -> tuple[list[str], list[int]]:
    """``n`` hex hashes, the last CLUSTERS * (VARIANTS + 1) being planted clusters; also the bases' ids."""
    rng = random.Random(seed)
    planted = min(CLUSTERS * (VARIANTS + 1), n)
    raw = np.random.default_rng(seed).bytes(32 * (n - planted + CLUSTERS)).hex()
    bank = [raw[i * 64 : (i + 1) * 64] for i in range(n - planted + CLUSTERS)]
    del raw
    bases = bank[n - planted :]
    base_ids = list(range(n - planted, n - planted + len(bases)))
    for base in bases:
        bank.extend(flip_bits(base, rng.randint(1, MATCH_DISTANCE), rng) for _ in range(VARIANTS))
    return bank[:n], [i for i in base_ids if i < n]


def make_entries(bank: list[str], image_entries: int, variants: int, seed: int) -> list[tuple[str, list[str]]]:
    """(own hash, variant hashes) per entry: the last ``image_entries`` entries of ``bank`` get variants.

    Variants take the place of bank hashes, so the index holds ``len(bank)`` hashes in all.
    """
    rng = random.Random(seed + 1)
    per_image = 1 + variants
    image_entries = min(image_entries, len(bank) // per_image)
    plain = len(bank) - image_entries * per_image
    entries = [(h, []) for h in bank[:plain]]
    for i in range(image_entries):
        own = bank[plain + i * per_image]
        entries.append((own, [flip_bits(own, rng.randint(20, 70), rng) for _ in range(variants)]))
    return entries


def make_queries(bank: list[str], base_ids: list[int], count: int, rng: random.Random,
                 variant_hashes: list[str] = ()) -> list[str]:
    """Half near-duplicates (0-31 bits from a planted base, or from a variant), half uniformly random."""
    targets = [bank[i] for i in base_ids] + list(variant_hashes)
    near = [flip_bits(rng.choice(targets), rng.randint(0, MATCH_DISTANCE), rng) for _ in range(count // 2)]
    far = [rng.randbytes(32).hex() for _ in range(count - len(near))]
    mixed = near + far
    rng.shuffle(mixed)
    return mixed


def time_queries(search: Callable[[str], list[tuple[int, int]]], queries: list[str]) -> tuple[list[float], list]:
    """Milliseconds per query, and the answers."""
    times, answers = [], []
    for query in queries:
        start = time.perf_counter()
        answers.append(search(query))
        times.append((time.perf_counter() - start) * 1000)
    return times, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes in the bank")
    parser.add_argument("--queries", type=int, default=200, help="queries timed with the index")
    parser.add_argument("--brute-queries", type=int, default=20, help="queries timed with brute force")
    parser.add_argument("--image-entries", type=int, default=10_000, help="entries made from images (with variants)")
    parser.add_argument("--variants", type=int, default=len(VARIANT_KINDS), help="variant hashes per image entry")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    bank, base_ids = make_bank(args.n, args.seed)
    entries = make_entries(bank, args.image_entries, args.variants, args.seed)
    ids = [(entry_id << SLOT_BITS) | slot for entry_id, (_, variants) in enumerate(entries, 1)
           for slot in range(1 + len(variants))]
    hashes = [h for own, variants in entries for h in (own, *variants)]
    index = HashIndex()
    start = time.perf_counter()
    index.add(ids, hashes)
    build_s = time.perf_counter() - start
    del ids, hashes

    variant_hashes = [v for _, variants in entries[-args.image_entries:] for v in variants] if args.image_entries else []
    queries = make_queries(bank, base_ids, args.queries, rng, variant_hashes)
    time_queries(index.search, queries[:10])  # warm up caches
    index_ms, index_answers = time_queries(index.search, queries)
    brute_ms, brute_answers = time_queries(index.search_brute, queries[: args.brute_queries])
    agree = all(a == b for a, b in zip(index_answers, brute_answers))
    matches = sum(1 for answer in index_answers if answer)
    del bank, variant_hashes

    matcher = BankMatcher()  # the service's path: one bank, entries with their variants, entry resolution
    matcher.set_bank(BankInfo(1, "bench", None, "positive", MATCH_DISTANCE))
    start = time.perf_counter()
    matcher.put([EntryInfo(entry_id, 1, own, "extremist_source", None, (), "block", tuple(variants))
                 for entry_id, (own, variants) in enumerate(entries, 1)])
    matcher_build_s = time.perf_counter() - start
    entry_count = len(entries)
    del entries
    time_queries(lambda q: matcher.search(q, "p")[1], queries[:10])
    matcher_ms, matcher_answers = time_queries(lambda q: matcher.search(q, "p")[1], queries)
    same_entries = all((hits[0].entry.id if hits else None) == (answer[0][0] >> SLOT_BITS if answer else None)
                       for hits, answer in zip(matcher_answers, index_answers))

    index_median, brute_median = float(np.median(index_ms)), float(np.median(brute_ms))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("hashes indexed", f"{len(index):,}"),
        (f"entries (of which with {args.variants} variants)", f"{entry_count:,} ({min(args.image_entries, entry_count):,})"),
        ("build (parse + index), s", f"{build_s:.2f}"),
        (f"index: median ms/query ({len(index_ms)} queries, d={MATCH_DISTANCE})", f"{index_median:.3f}"),
        ("index: p99 ms/query", f"{np.percentile(index_ms, 99):.3f}"),
        (f"brute force: median ms/query ({len(brute_ms)} queries)", f"{brute_median:.3f}"),
        ("brute force: p99 ms/query", f"{np.percentile(brute_ms, 99):.3f}"),
        ("speed ratio brute/index (medians)", f"{brute_median / index_median:.1f}x"),
        ("queries with >= 1 match (index)", f"{matches}/{len(index_ms)}"),
        ("index == brute force on the shared queries", "yes" if agree else "NO"),
        ("BankMatcher: load every entry, s", f"{matcher_build_s:.2f}"),
        ("BankMatcher.search: median ms/query (same queries)", f"{float(np.median(matcher_ms)):.3f}"),
        ("BankMatcher: nearest entry == index's nearest", "yes" if same_entries else "NO"),
        ("peak RSS, MB", f"{rss_mb:.0f}"),
    ]
    width = max(len(label) for label, _ in rows)
    value_width = max(10, *(len(value) for _, value in rows))
    print(f"| {'HashIndex benchmark':<{width}} | {'value':>{value_width}} |")
    print(f"|{'-' * (width + 2)}|{'-' * (value_width + 2)}|")
    for label, value in rows:
        print(f"| {label:<{width}} | {value:>{value_width}} |")


if __name__ == "__main__":
    main()
