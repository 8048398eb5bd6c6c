"""Exactly-once check: two service processes, one PostgreSQL database, racing duplicate deliveries.

Starts two ``uvicorn service.main:app`` processes on loopback ports sharing a fresh
database, sends N signed pre-publish deliveries (a share of them repeat an earlier
webhook-id, half of those at the same moment to the *other* process) with bounded
concurrency, then checks:

- exactly one stored result per webhook-id (and one delivery row),
- every repeat answered with the same status and the same bytes,
- no 5xx.

Prints the figures; exits 1 when a check fails. Usage::

    python scripts/exactly_once.py [--deliveries 500] [--duplicates 0.2] [--concurrency 32] [--json]

The server is ``--postgres``, else MODLABEL_TEST_POSTGRES_URL, else DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres; the database ``modlabel_eo_<random>``
is created for the run and dropped afterwards (unless ``--keep-db``). The servers and the
database come from bench/loopback.py (shared with bench/soak.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.loopback import (PUBLISHER, drop_database, prepare_database, server_url,  # noqa: E402
                            signed_headers, start_servers, stop_servers, webhook_rows)

TEXTS = [
    ("Militants release video", '<p>A new video purportedly put out by the Islamic State shows bodies in the street after airstrikes.</p>'
     '<figure><img src="https://cdn.example/{n}.jpg" alt="bodies"><figcaption>Still from a video released by Amaq</figcaption></figure>'),
    ("Council approves budget", "<p>The city council approved next year's budget on Tuesday after a long debate.</p>"),
    ("Footage from the front", "<p>Unconfirmed footage allegedly shows the aftermath of a shelling; it could not be independently verified.</p>"),
    ("Market report", "<p>Shares rose for a third day as investors weighed new data.</p>"),
]


def plan(total: int, dup_share: float, rng: random.Random) -> list[tuple[str, int, bool]]:
    """(webhook-id, item number, is_repeat) in sending order; repeats partly adjacent to race."""
    repeats = int(round(total * dup_share))
    unique = total - repeats
    ids = [f"eo-{i:05d}-{secrets.token_hex(3)}" for i in range(unique)]
    order: list[tuple[str, int, bool]] = [(wid, i, False) for i, wid in enumerate(ids)]
    rng.shuffle(order)
    for k in range(repeats):
        wid, n, _ = rng.choice([o for o in order if not o[2]])
        pos = next(i for i, o in enumerate(order) if o[0] == wid)
        at = pos + 1 if k % 2 == 0 else rng.randrange(pos + 1, len(order) + 1)  # half race, half later
        order.insert(at, (wid, n, True))
    return order


def body_for(n: int, items: int) -> str:
    title, html = TEXTS[n % len(TEXTS)]
    return json.dumps({"id": f"article-{n % items}", "publisher": PUBLISHER, "title": f"{title} #{n}",
                       "body": html.format(n=n) + f"<p>Ref {n}.</p>"})


async def send_all(bases: list[str], secret: str, order, concurrency: int, items: int, rng: random.Random) -> list[dict]:
    sem = asyncio.Semaphore(concurrency)
    last_base: dict[str, int] = {}
    out: list[dict] = []

    async def one(client: httpx.AsyncClient, wid: str, n: int, repeat: bool) -> None:
        body = body_for(n, items)
        # A repeat goes to the other process than the first copy did.
        idx = (1 - last_base[wid]) % len(bases) if wid in last_base else rng.randrange(len(bases))
        last_base[wid] = idx
        async with sem:
            headers = signed_headers(secret, wid, body)  # re-signed each time, like a real retry
            t0 = time.perf_counter()
            try:
                r = await client.post(bases[idx] + "/v1/webhooks/pre-publish", content=body, headers=headers)
                status, content, replayed = r.status_code, r.content, r.headers.get("x-modlabel-replayed") == "true"
            except httpx.HTTPError as exc:
                status, content, replayed = 0, repr(exc).encode(), False
            out.append({"id": wid, "repeat": repeat, "server": idx, "status": status, "body": content,
                        "replayed": replayed, "seconds": time.perf_counter() - t0})

    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(one(client, wid, n, rep) for wid, n, rep in order))
    return out


def evaluate(responses: list[dict], db: dict, unique_ids: set[str]) -> dict:
    by_id: dict[str, list[dict]] = defaultdict(list)
    for r in responses:
        by_id[r["id"]].append(r)
    statuses = Counter(r["status"] for r in responses)
    mismatched = [wid for wid, rs in by_id.items() if len({(r["status"], r["body"]) for r in rs}) > 1]
    results_per_id = Counter(n for _, n in db["per_id"].values())
    lat = sorted(r["seconds"] * 1000 for r in responses)
    figures = {
        "requests": len(responses),
        "unique_webhook_ids": len(unique_ids),
        "repeated_requests": sum(r["repeat"] for r in responses),
        "ids_sent_more_than_once": sum(len(rs) > 1 for rs in by_id.values()),
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "http_5xx": sum(v for k, v in statuses.items() if k >= 500 or k == 0),
        "answered_from_storage": sum(r["replayed"] for r in responses),
        "ids_with_differing_answers": len(mismatched),
        "delivery_rows": len(db["per_id"]),
        "delivery_rows_not_done": sum(1 for status, _ in db["per_id"].values() if status != "done"),
        "stored_results": db["results"],
        "results_per_webhook_id": {str(k): v for k, v in sorted(results_per_id.items())},
        "items": db["items"],
        "requests_per_server": {str(k): v for k, v in sorted(Counter(r["server"] for r in responses).items())},
        "latency_ms_p50": round(statistics.median(lat), 1),
        "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 1),
        "latency_ms_max": round(lat[-1], 1),
    }
    figures["checks"] = {
        "one_result_per_webhook_id": set(results_per_id) == {1} and len(db["per_id"]) == len(unique_ids)
        and db["results"] == len(unique_ids),
        "repeats_answered_identically": not mismatched,
        "no_5xx": figures["http_5xx"] == 0,
    }
    figures["ok"] = all(figures["checks"].values())
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deliveries", type=int, default=500)
    ap.add_argument("--duplicates", type=float, default=0.2, help="Share of requests that repeat an earlier webhook-id.")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--postgres", help="PostgreSQL server URL (a database is created on it for the run).")
    ap.add_argument("--rules-only", action="store_true", help="Run the servers without the learned stage.")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    admin = server_url(args.postgres)
    db = prepare_database(admin, prefix="eo")
    url, secret = db.url, db.secret
    procs: list[subprocess.Popen] = []
    try:
        env_extra = {"MODLABEL_CLASSIFIER_ENABLED": "false"} if args.rules_only else {}
        procs, bases = start_servers(url, args.servers, env_extra)
        order = plan(args.deliveries, args.duplicates, rng)
        items = max(1, len({o[0] for o in order}) // 4)
        t0 = time.perf_counter()
        responses = asyncio.run(send_all(bases, secret, order, args.concurrency, items, rng))
        elapsed = time.perf_counter() - t0
        figures = evaluate(responses, webhook_rows(url), {o[0] for o in order})
        figures.update({"seconds": round(elapsed, 2), "requests_per_second": round(len(responses) / elapsed, 1),
                        "servers": len(bases), "concurrency": args.concurrency, "database": make_url(url).database})
    finally:
        stop_servers(procs)
        if not args.keep_db:
            drop_database(admin, url)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    else:
        for key, value in figures.items():
            print(f"{key:32} {value}")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
