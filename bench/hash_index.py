"""Time PDQ hash-bank lookups: HashIndex (multi-index hashing) against a brute-force scan.

Builds ``--n`` random 256-bit hashes (default 1,000,000) including planted
near-duplicate clusters, then times ``--queries`` lookups at distance 31 with
the index (half near-duplicates of planted hashes, half random) and
``--brute-queries`` with the brute-force scan, side by side in one run, and
prints one table. Run with ``python -m bench.hash_index [--n N]``.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from collections.abc import Callable

import numpy as np

from classifiers.hashing import MATCH_DISTANCE, HashIndex

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


def make_queries(bank: list[str], base_ids: list[int], count: int, rng: random.Random) -> list[str]:
    """Half near-duplicates (0-31 bits from a planted base), half uniformly random."""
    near = [flip_bits(bank[rng.choice(base_ids)], rng.randint(0, MATCH_DISTANCE), rng) for _ in range(count // 2)]
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
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    bank, base_ids = make_bank(args.n, args.seed)
    index = HashIndex()
    start = time.perf_counter()
    index.add(range(len(bank)), bank)
    build_s = time.perf_counter() - start

    queries = make_queries(bank, base_ids, args.queries, rng)
    time_queries(index.search, queries[:10])  # warm up caches
    index_ms, index_answers = time_queries(index.search, queries)
    brute_ms, brute_answers = time_queries(index.search_brute, queries[: args.brute_queries])
    agree = all(a == b for a, b in zip(index_answers, brute_answers))
    matches = sum(1 for answer in index_answers if answer)
    del bank

    index_median, brute_median = float(np.median(index_ms)), float(np.median(brute_ms))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("hashes indexed", f"{len(index):,}"),
        ("build (parse + index), s", f"{build_s:.2f}"),
        (f"index: median ms/query ({len(index_ms)} queries, d={MATCH_DISTANCE})", f"{index_median:.3f}"),
        ("index: p99 ms/query", f"{np.percentile(index_ms, 99):.3f}"),
        (f"brute force: median ms/query ({len(brute_ms)} queries)", f"{brute_median:.3f}"),
        ("brute force: p99 ms/query", f"{np.percentile(brute_ms, 99):.3f}"),
        ("speed ratio brute/index (medians)", f"{brute_median / index_median:.1f}x"),
        ("queries with >= 1 match (index)", f"{matches}/{len(index_ms)}"),
        ("index == brute force on the shared queries", "yes" if agree else "NO"),
        ("peak RSS, MB", f"{rss_mb:.0f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"| {'HashIndex benchmark':<{width}} | {'value':>10} |")
    print(f"|{'-' * (width + 2)}|{'-' * 12}|")
    for label, value in rows:
        print(f"| {label:<{width}} | {value:>10} |")


if __name__ == "__main__":
    main()
