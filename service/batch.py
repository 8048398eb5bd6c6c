"""``modlabel scan``: moderate a JSON Lines batch on every core, resumably."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

_MODERATOR = None
_validate_item = None  # service.cli._validate_item, bound in each worker by _init
CHUNK = 64


def _init(rules_only: bool, banks: bool = False) -> None:
    import gc

    global _MODERATOR, _validate_item
    from service.cli import _moderator, _validate_item

    _MODERATOR = _moderator(rules_only, banks=banks)  # banks: each worker loads the hash banks once
    gc.collect()
    gc.freeze()  # the models and lexicons stay out of the collector's full passes (as in the service)


def _work(lines: list[bytes]) -> list[bytes]:
    out = []
    for line in lines:
        try:
            item = orjson.loads(line)
            result = _MODERATOR.moderate(_validate_item(item, item.get("id", "?")) if isinstance(item, dict) else {})
        except Exception as exc:  # one bad line must not stop the batch
            ident = None
            try:
                ident = orjson.loads(line).get("id")
            except Exception:
                pass
            result = {"item_id": ident, "error": {"code": "invalid_item", "message": str(exc)[:500]}}
        out.append(orjson.dumps(result))
    return out


def _done_ids(out: Path) -> set:
    done = set()
    if out.exists():
        with open(out, "rb") as fh:
            for line in fh:
                try:
                    done.add(orjson.loads(line).get("item_id"))
                except orjson.JSONDecodeError:
                    continue  # a half-written last line from an interrupted run
    return done


def run_scan(infile: Path, out: Path, *, workers: int, rules_only: bool, console: Console, banks: bool = False) -> Counter:
    done = _done_ids(out)
    pending: list[bytes] = []
    skipped = 0
    with open(infile, "rb") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                ident = orjson.loads(line).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                ident = None
            if ident is not None and ident in done:
                skipped += 1
                continue
            pending.append(line)
    workers = workers or os.cpu_count() or 1
    chunks = [pending[i:i + CHUNK] for i in range(0, len(pending), CHUNK)]
    decisions: Counter = Counter()
    labels: Counter = Counter()
    # a truncated last line of an interrupted run is completed with a newline first
    if out.exists() and out.stat().st_size and not out.read_bytes().endswith(b"\n"):
        with open(out, "ab") as fh:
            fh.write(b"\n")
    with open(out, "ab") as sink, Progress(TextColumn("scan"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("scan", total=len(pending))
        with ProcessPoolExecutor(max_workers=workers, initializer=_init, initargs=(rules_only, banks)) as pool:
            for results in pool.map(_work, chunks):
                for raw in results:
                    sink.write(raw + b"\n")
                    r = orjson.loads(raw)
                    decisions[r.get("decision", "error")] += 1
                    for lab in r.get("labels", []):
                        labels[lab["name"]] += 1
                sink.flush()
                bar.advance(task, len(results))
    table = Table(title=f"scan: {len(pending)} moderated, {skipped} already in {out}")
    table.add_column("decision / label")
    table.add_column("count", justify="right")
    for k, v in sorted(decisions.items()):
        table.add_row(k, str(v))
    for k, v in sorted(labels.items()):
        table.add_row(f"label {k}", str(v))
    console.print(table)
    return decisions
