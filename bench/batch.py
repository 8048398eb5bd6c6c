"""Batch throughput: ``modlabel scan`` in MB of article text per second, with 1 and 2 processes.

    python -m bench.batch [--items 2000] [--workers 1 2]

Writes ``--items`` varied news-like articles (60-2,500 words, some with a
captioned image; see bench/scaling.py) to a temporary JSON Lines file and
runs the real command line on it once per worker count, each time into a
fresh output file. MB/s counts the UTF-8 bytes of title, body and media text
over the command's wall time (process start and model load included; the
start-up cost alone, measured on a one-item file, is shown beside it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.scaling import text_bytes, varied_items

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300


def modlabel_cmd() -> list[str]:
    """The installed console script beside this interpreter, else the typer app through -c."""
    script = Path(sys.executable).parent / "modlabel"
    if script.exists():
        return [str(script)]
    found = shutil.which("modlabel")
    return [found] if found else [sys.executable, "-c", "from service.cli import app; app()"]


def scan_env(data_dir: Path) -> dict:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("MODLABEL_DATABASE_URL", None)
    env["MODLABEL_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_scan(infile: Path, outfile: Path, workers: int, env: dict) -> float:
    """Wall seconds of ``modlabel scan infile -o outfile --workers N``; raises with its stderr on failure."""
    if outfile.exists():
        outfile.unlink()
    t = time.perf_counter()
    proc = subprocess.run([*modlabel_cmd(), "scan", str(infile), "-o", str(outfile), "--workers", str(workers)],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"modlabel scan failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
    return wall


def run(items: int = 2000, workers: tuple[int, ...] = (1, 2), seed: int = 5) -> dict:
    batch = varied_items(items, seed, (60, 2500))
    for i, item in enumerate(batch):
        item["id"] = f"bench-{i:06d}"
    total_bytes = sum(text_bytes(it) for it in batch)
    rows = []
    with tempfile.TemporaryDirectory(prefix="modlabel-bench-batch-") as tmp:
        tmp = Path(tmp)
        infile, one = tmp / "items.jsonl", tmp / "one.jsonl"
        infile.write_bytes(b"\n".join(orjson.dumps(it) for it in batch) + b"\n")
        one.write_bytes(orjson.dumps(batch[0]) + b"\n")
        env = scan_env(tmp / "data")
        (tmp / "data").mkdir()
        for n in workers:
            startup = run_scan(one, tmp / "one.out.jsonl", n, env)
            wall = run_scan(infile, tmp / f"out{n}.jsonl", n, env)
            lines = (tmp / f"out{n}.jsonl").read_bytes().splitlines()
            errors = sum(1 for line in lines if b'"error"' in line[:200] and orjson.loads(line).get("error"))
            if len(lines) != items:
                raise RuntimeError(f"scan wrote {len(lines)} results for {items} items")
            rows.append({"workers": n, "wall_s": wall, "startup_s": startup, "items_per_s": items / wall,
                         "mb_per_s": total_bytes / 1e6 / wall, "mb_per_s_per_core": total_bytes / 1e6 / wall / n,
                         "errors": errors})
    return {"items": items, "mb": total_bytes / 1e6, "rows": rows}


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    res = run(args.items, tuple(args.workers))
    print(f"{res['items']} items, {res['mb']:.2f} MB of article text")
    print(f"{'workers':>7} {'wall s':>7} {'start s':>8} {'items/s':>8} {'MB/s':>6} {'MB/s/core':>10} {'errors':>7}")
    for r in res["rows"]:
        print(f"{r['workers']:>7} {r['wall_s']:>7.2f} {r['startup_s']:>8.2f} {r['items_per_s']:>8.0f} "
              f"{r['mb_per_s']:>6.2f} {r['mb_per_s_per_core']:>10.2f} {r['errors']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
