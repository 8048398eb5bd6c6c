"""Server memory: RSS of the uvicorn worker after warm-up and after 100,000 requests.

    python -m bench.memory [--requests 100000] [--max-seconds 240] [--workers 1]

One server as in bench/http.py (the real app, same flags, 127.0.0.1, a
temporary data dir). Load: ``/v1/moderate`` with a pool of 2,000 varied
news briefs (15-150 words, some with a captioned image, no ``id`` so nothing is
stored), 32 connections. Warm-up: 8 s of that load; RSS is read from
/proc/<pid>/status (VmRSS, and VmHWM for the peak). The soak is bounded by a
request count and by a duration cap (load-generator runs of at most 20 s, the
last one sized from the measured rate); the number of requests made is reported.
p50/p99 are the worst of those runs.
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


def soak(server, key, bodies: Path, requests: int, max_seconds: float, chunk_seconds: float = 20.0) -> dict:
    """``requests`` requests or ``max_seconds``, whichever comes first, in load-generator runs of <= chunk_seconds."""
    done, chunks, rate = 0, [], None
    start = time.perf_counter()
    while done < requests:
        left = max_seconds - (time.perf_counter() - start)
        est = (requests - done) / rate * 1.05 + 1 if rate else chunk_seconds
        seconds = min(chunk_seconds, est, left)
        if seconds < 1:
            break
        r = load(server.url, MODERATE_PATH, bodies, key=key, seconds=seconds, limit=requests - done)
        chunks.append(r)
        done += r["requests"]
        if not r["count_bounded"] and r["requests"]:
            rate = r["rps"]
    wall = time.perf_counter() - start
    if not chunks:
        raise ValueError(f"max_seconds={max_seconds} leaves no time for a load run")
    timed = [c for c in chunks if not c["count_bounded"]]  # a run stopped by the count idles until its -d ends
    rps = sum(c["requests"] for c in timed) / sum(c["seconds"] for c in timed) if timed else done / wall
    return {"requests": done, "seconds": wall, "rps": rps, "chunks": len(chunks),
            "p50_ms": max(c["p50_ms"] for c in chunks), "p99_ms": max(c["p99_ms"] for c in chunks),
            "errors": sum(c["errors"] + c["non_200"] for c in chunks),
            "first_bad": next((c["first_bad"] for c in chunks if c["first_bad"]), ""), "tool": chunks[0]["tool"]}


def run(requests: int = 100_000, max_seconds: float = 300.0, workers: int = 1, warmup_seconds: float = 8.0) -> dict:
    with tempfile.TemporaryDirectory(prefix="modlabel-bench-memory-") as tmp:
        tmp = Path(tmp)
        bodies = write_bodies(tmp / "soak.jsonl", varied_items(2_000, 77, (15, 150)))
        with bench_server(workers, tmp) as (server, key):
            start_rss = server.rss_mb()
            warm = load(server.url, MODERATE_PATH, bodies, key=key, seconds=warmup_seconds, limit=20_000)
            warm_rss = server.rss_mb()
            s = soak(server, key, bodies, requests, max_seconds)
            end_rss = server.rss_mb()
            peaks = [peak_mb(pid) for pid in server.worker_pids()]
    growth = max((e - w) / w * 100 for w, e in zip(warm_rss, end_rss))
    return {"workers": workers, "start_rss_mb": max(start_rss), "warm_rss_mb": max(warm_rss), "end_rss_mb": max(end_rss),
            "peak_rss_mb": max(peaks), "growth_pct": growth, "warmup_requests": warm["requests"],
            "requests": s["requests"], "target_requests": requests, "seconds": s["seconds"], "rps": s["rps"],
            "p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"], "errors": s["errors"] + warm["errors"] + warm["non_200"],
            "first_bad": s["first_bad"] or warm["first_bad"], "tool": s["tool"], "max_seconds": max_seconds}


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--max-seconds", type=float, default=300.0)
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
