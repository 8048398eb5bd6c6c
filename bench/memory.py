"""Server memory: RSS of the uvicorn worker after warm-up and after 100,000 requests.

    python -m bench.memory [--requests 100000] [--max-seconds 240] [--workers 1]

One server as in bench/http.py (the real app, same flags, 127.0.0.1, a
temporary data dir). Load: ``/v1/moderate`` with a pool of 2,000 varied
news items (30-400 words, some with a captioned image, no ``id`` so nothing is
stored), 32 connections. Warm-up: 2,000 requests; RSS is read from
/proc/<pid>/status (VmRSS, and VmHWM for the peak). The soak is bounded by a
request count and by a duration cap; the number of requests actually made is
reported.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.http import MODERATE_PATH, bench_server, load, write_bodies
from bench.scaling import varied_items


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(requests: int = 100_000, max_seconds: float = 240.0, workers: int = 1, warmup: int = 2_000) -> dict:
    with tempfile.TemporaryDirectory(prefix="modlabel-bench-memory-") as tmp:
        tmp = Path(tmp)
        bodies = write_bodies(tmp / "soak.jsonl", varied_items(2_000, 77, (30, 400)))
        with bench_server(workers, tmp) as (server, key):
            start_rss = server.rss_mb()
            warm = load(server.url, MODERATE_PATH, bodies, key=key, seconds=120, limit=warmup)
            warm_rss = server.rss_mb()
            t = time.perf_counter()
            soak = load(server.url, MODERATE_PATH, bodies, key=key, seconds=max_seconds, limit=requests)
            wall = time.perf_counter() - t
            end_rss = server.rss_mb()
            peaks = [peak_mb(pid) for pid in server.worker_pids()]
    growth = max((e - w) / w * 100 for w, e in zip(warm_rss, end_rss))
    return {"workers": workers, "start_rss_mb": max(start_rss), "warm_rss_mb": max(warm_rss), "end_rss_mb": max(end_rss),
            "peak_rss_mb": max(peaks), "growth_pct": growth, "warmup_requests": warm["requests"],
            "requests": soak["requests"], "target_requests": requests, "seconds": wall, "rps": soak["rps"],
            "p50_ms": soak["p50_ms"], "p99_ms": soak["p99_ms"], "errors": soak["errors"] + soak["non_200"] + warm["errors"] + warm["non_200"],
            "first_bad": soak["first_bad"] or warm["first_bad"], "tool": soak["tool"], "max_seconds": max_seconds}


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--max-seconds", type=float, default=240.0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    r = run(args.requests, args.max_seconds, args.workers)
    print(f"{r['workers']} worker(s), {r['tool']}: {r['requests']:,} of {r['target_requests']:,} requests in {r['seconds']:.0f} s "
          f"({r['rps']:.0f}/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, {r['errors']} errors)")
    print(f"RSS MB: start {r['start_rss_mb']:.0f}, after {r['warmup_requests']:,} warm-up {r['warm_rss_mb']:.0f}, "
          f"after soak {r['end_rss_mb']:.0f} (peak {r['peak_rss_mb']:.0f}); growth {r['growth_pct']:+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
