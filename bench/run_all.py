"""``make bench``: the whole suite in one run, printed as ONE Markdown table with targets.

    python -m bench.run_all [--quick] [--only a,b,c,d,e] [--profile]

Sections:
  (a) in-process pipeline (bench/pipeline.py): items/s, p50/p99 per article length, rules vs full
  (b) scaling (bench/scaling.py): time per character and peak traced memory, 1,000 to 1,000,000 chars
  (c) HTTP (bench/http.py): /v1/moderate vs a bare echo route, one server, 1 and 2 uvicorn workers
  (d) batch (bench/batch.py): ``modlabel scan`` MB/s with 1 and 2 processes
  (e) server memory (bench/memory.py): worker RSS after warm-up and after 100,000 requests

Every server binds 127.0.0.1 and is stopped on exit (also on Ctrl-C/SIGTERM);
every load loop is bounded by a count and a duration. ``--quick`` shortens
everything (a smoke run, not figures to quote). ``--profile`` prints a
pyinstrument profile of 800-word articles through the full pipeline instead.
The "other CPU" line says how many cores processes outside this benchmark
used meanwhile: figures taken on a busy machine are low.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

TARGETS = {
    "a": "full p50 <= 1 ms (800 words)",
    "b": "time/char max/min <= 2x",
    "c": "ratio >= 0.4, p99 <= 25 ms",
    "d": ">= 5 MB/s per core",
    "e": "RSS <= 300 MB, growth <= 10%",
}


# -- machine and noise ---------------------------------------------------------------------------

def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0) / 2**20
    return (f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {cpu}, {mem:.1f} GiB RAM, "
            f"Python {platform.python_version()}, Linux {platform.release()}")


def _busy_seconds() -> float:
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Section:
    """Wall time of a section and the CPU that processes outside it used meanwhile (in cores)."""

    def __enter__(self):
        self.wall, self.busy, self.own = time.perf_counter(), _busy_seconds(), _own_seconds()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.wall
        other = (_busy_seconds() - self.busy) - (_own_seconds() - self.own)
        self.other_cores = max(0.0, other / self.seconds) if self.seconds else 0.0
        return False


# -- the table -----------------------------------------------------------------------------------

ROWS: list[tuple[str, ...]] = []
HEAD = ("sec", "case", "throughput", "p50 ms", "p99 ms", "other", "target", "verdict")


def row(sec, case, throughput="", p50="", p99="", other="", target="", verdict=""):
    ROWS.append(tuple(str(x) for x in (sec, case, throughput, p50, p99, other, target, verdict)))


def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER"


def render() -> str:
    widths = [max(len(h), *(len(r[i]) for r in ROWS)) if ROWS else len(h) for i, h in enumerate(HEAD)]
    right = {2, 3, 4}
    fmt = lambda cells: "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    lines = [fmt(HEAD), "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)) + "|"]
    lines += [fmt(r) for r in ROWS]
    return "\n".join(lines)


# -- sections ------------------------------------------------------------------------------------

def section_a(quick: bool) -> None:
    from bench.pipeline import article, measure
    from bench.scaling import news_item
    from classifiers.pipeline import Moderator
    from service.config import Settings
    from service.services import load_classifier

    full = Moderator(classifier=load_classifier(Settings()))
    rules = Moderator(classifier=None, mode="rules")
    import gc

    gc.collect()
    gc.freeze()  # as serving processes do after loading (service/main.py): no full passes over the models
    scale = 10 if quick else 1
    cases = [(f"{w} words", article(w), r // scale) for w, r in ((100, 1000), (800, 500), (5000, 100))]
    cases.append(("800 words, varied", news_item(random.Random(42), 800, media=False), 300 // scale))
    for name, item, repeat in cases:
        for stages, mod in (("rules", rules), ("full", full)):
            ips, p50, p99 = measure(mod, item, max(repeat, 20))
            target = verdict_text = ""
            if name == "800 words" and stages == "full":
                target, verdict_text = TARGETS["a"], verdict(p50 <= 1.0)
            row("a", f"{name}, {stages}", f"{ips:,.0f} items/s", f"{p50:.3f}", f"{p99:.3f}", "", target, verdict_text)


def section_b(quick: bool) -> None:
    from bench import scaling

    if quick:
        scaling.SIZES = (1_000, 10_000, 100_000)
        scaling.TIME_BUDGET_S = 0.3
    res = scaling.run()
    for r in res["rows"]:
        case = f"{r['chars']:,} chars, full" + (f" ({r['bodies']} bodies)" if r["bodies"] > 1 else "")
        row("b", case, f"{r['us_per_kchar'] / 1000:.2f} us/char", f"{r['seconds'] * 1000:.2f}", "",
            f"peak {r['peak_bytes'] / 2**20:.1f} MB ({r['peak_per_char']:.0f} B/char)")
    slowest = max(res["rows"], key=lambda r: r["us_per_kchar"])
    trend = res["rows"][-1]["us_per_kchar"] / res["rows"][0]["us_per_kchar"]
    row("b", "time per char, max/min", f"{res['time_ratio']:.2f}x", "", "",
        f"slowest per char at {slowest['chars']:,} chars; largest/smallest {trend:.2f}x",
        TARGETS["b"], verdict(res["time_ratio"] <= 2))
    row("b", f"peak memory per char, {res['rows'][-1]['chars']:,} / {res['peak_ref_chars']:,} chars", f"{res['peak_ratio']:.2f}x",
        "", "", f"max {res['peak_mb_max']:.0f} MB (at {res['rows'][-1]['chars']:,} chars)", "<= 2x (bounded, linear)",
        verdict(res["peak_ratio"] <= 2))


def section_c(quick: bool) -> None:
    from bench import http

    res = http.run(seconds=3 if quick else 10, warmup_seconds=1 if quick else 2)
    for r in res["rows"]:
        errs = r["errors"] + r["non_200"]
        other = f"ratio {r['ratio']:.2f}, {r['requests']:,} req" + (f", {errs} ERRORS ({r['first_bad'][:60]})" if errs else "")
        if r["workers"] > 1:
            other += f", busiest worker {r['busiest_worker_share'] * 100:.0f}% of CPU"
            other += f" ({r['reruns']} rerun{'s' if r['reruns'] > 1 else ''}: connections piled on one worker)" if r["reruns"] else ""
        target = verdict_text = ""
        if r["route"] == "moderate":
            target = TARGETS["c"]
            verdict_text = verdict(r["ratio"] >= 0.4 and r["p99_ms"] <= 25 and not errs)
        elif errs:
            verdict_text = "ERRORS"
        row("c", f"{r['route']}, {r['workers']} worker{'s' if r['workers'] > 1 else ''}", f"{r['rps']:,.0f} req/s",
            f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", other, target, verdict_text)
    row("c", "load", res["tool"], "", "", f"{res['connections']} conns, {res['seconds']:g} s/row, "
        f"{res['payload_bytes'] / 1024:.1f} KB bodies, auth {'on' if res['auth'] else 'off'}")


def section_d(quick: bool) -> None:
    from bench import batch

    res = batch.run(items=300 if quick else 2000)
    for r in res["rows"]:
        row("d", f"scan, {r['workers']} process{'es' if r['workers'] > 1 else ''}", f"{r['mb_per_s']:.2f} MB/s", "", "",
            f"{r['mb_per_s_per_core']:.2f} MB/s/core, {r['items_per_s']:.0f} items/s, {r['wall_s']:.1f} s "
            f"(start-up {r['startup_s']:.1f} s)" + (f", {r['errors']} item errors" if r["errors"] else ""),
            TARGETS["d"], verdict(r["mb_per_s_per_core"] >= 5))
    row("d", "input", f"{res['mb']:.2f} MB", "", "", f"{res['items']:,} varied items, 60-2,500 words")


def section_e(quick: bool) -> None:
    from bench import memory

    r = memory.run(requests=3_000 if quick else 100_000, max_seconds=20 if quick else 300,
                   warmup_seconds=3 if quick else 8)
    row("e", "worker RSS after warm-up", f"{r['warm_rss_mb']:.0f} MB", "", "",
        f"{r['warmup_requests']:,} req; at start {r['start_rss_mb']:.0f} MB", "<= 300 MB", verdict(r["warm_rss_mb"] <= 300))
    reached = r["requests"] >= r["target_requests"]
    row("e", f"worker RSS after {r['requests']:,} req", f"{r['end_rss_mb']:.0f} MB", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}",
        f"peak {r['peak_rss_mb']:.0f} MB; {r['rps']:.0f} req/s, {r['seconds']:.0f} s"
        + ("" if reached else f", time cap {r['max_seconds']:.0f} s hit before {r['target_requests']:,}")
        + (f", {r['errors']} ERRORS" if r["errors"] else ""),
        "<= 300 MB", verdict(r["end_rss_mb"] <= 300 and not r["errors"]))
    row("e", "RSS growth", f"{r['growth_pct']:+.1f}%", "", "", f"{r['workers']} worker, {r['tool']}", "<= 10%",
        verdict(r["growth_pct"] <= 10))


SECTIONS = {"a": ("in-process pipeline", section_a), "b": ("scaling", section_b), "c": ("HTTP", section_c),
            "d": ("batch", section_d), "e": ("server memory", section_e)}


# -- profile -------------------------------------------------------------------------------------

def profile(seconds: float = 5.0) -> int:
    """pyinstrument over the full pipeline: the 800-word article of section (a), then a varied one."""
    from bench.pipeline import article
    from bench.scaling import news_item
    from classifiers.pipeline import Moderator
    from service.config import Settings
    from service.services import load_classifier

    try:
        from pyinstrument import Profiler
        from pyinstrument.renderers import ConsoleRenderer
    except ImportError:
        print("pyinstrument is not installed: .venv/bin/pip install pyinstrument")
        return 1
    mod = Moderator(classifier=load_classifier(Settings()))
    for name, item in (("section (a)'s 800-word article", article(800)),
                       ("a varied 800-word article (corpus sentences)", news_item(random.Random(42), 800, media=False))):
        for _ in range(50):
            mod.moderate(item)
        profiler = Profiler(interval=0.0002)
        n, end = 0, time.perf_counter() + seconds
        profiler.start()
        while time.perf_counter() < end:
            mod.moderate(item)
            n += 1
        profiler.stop()
        print(f"== {name}: {n} calls of Moderator.moderate in {seconds:g} s (sampling adds overhead)")
        print(profiler.output(ConsoleRenderer(unicode=False, color=False, processor_options={"filter_threshold": 0.01})))
        _print_flat(profiler)
    return 0


def _print_flat(profiler, top: int = 25) -> None:
    """Time spent in each function itself (not in what it calls), summed over every call site."""
    flat: dict[str, float] = {}
    root = profiler.last_session.root_frame(trim_stem=False)
    total = root.time if root else 0.0
    stack = [root] if root else []
    while stack:
        frame = stack.pop()
        children = [c for c in frame.children if not c.is_synthetic]
        own = frame.time - sum(c.time for c in children)
        if not frame.is_synthetic and own > 0:
            where = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
            flat[where] = flat.get(where, 0.0) + own
        stack.extend(children)
    print(f"self time by function (top {top}):")
    for where, t in sorted(flat.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {t / total * 100:5.1f}%  {where}")
    print()


# -- main ----------------------------------------------------------------------------------------

def _terminate(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through the benchmarks' finally blocks, which stop the servers


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    ap.add_argument("--only", default="abcde", help="sections to run, e.g. 'ac'")
    ap.add_argument("--profile", action="store_true", help="profile the 800-word full pipeline instead")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if args.profile:
        return profile()
    started = time.perf_counter()
    print(f"modlabel bench, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {machine()}", flush=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f}" + (" (--quick: smoke figures)" if args.quick else ""), flush=True)
    failures, noise = [], []
    for key in [k for k in SECTIONS if k in args.only.replace(",", "")]:
        name, fn = SECTIONS[key]
        print(f"  ({key}) {name} ...", file=sys.stderr, flush=True)
        try:
            with Section() as sec:
                fn(args.quick)
        except Exception as exc:  # one broken section must not hide the others
            traceback.print_exc()
            row(key, f"{name}: FAILED", "", "", "", f"{type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}",
                TARGETS[key], "FAILED")
            failures.append(key)
            continue
        noise.append(f"({key}) {sec.seconds:.0f} s, other CPU {sec.other_cores:.2f} cores")
    print()
    print(render())
    print()
    print("sections: " + "; ".join(noise))
    busy = [n for n in noise if float(n.rsplit("CPU ", 1)[1].split()[0]) > 0.2]
    if busy:
        print("WARNING: other processes used CPU during the run; throughput figures are lower than on an idle machine")
    print(f"total {time.perf_counter() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
