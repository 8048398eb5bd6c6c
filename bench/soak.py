"""Bounded soak: mixed traffic at a target rate against two service processes on PostgreSQL.

    python -m bench.soak [--seconds 300] [--rate 200] [--concurrency 128] [--rules-only] [--json]
    make soak                               # the same, 5 minutes at 200 requests/s
    make soak SOAK_ARGS="--seconds 30"      # shorter
    python -m bench.soak --cost 200         # server CPU per request of each kind (where the time goes)

Two ``uvicorn service.main:app`` processes (what ``--workers 2`` runs; this client
alternates between their ports) share a fresh database ``modlabel_soak_<random>`` on the
PostgreSQL server (``--postgres``, else MODLABEL_TEST_POSTGRES_URL, else DATABASE_URL,
else 127.0.0.1:5432), dropped at the end. Rate limits are off
(``MODLABEL_RATE_LIMIT_PER_MINUTE=0``); the callback sender runs in both processes and
posts to a receiver in this process. Helpers shared with scripts/exactly_once.py live in
bench/loopback.py.

Traffic is open-loop and bounded: request i is due at start + i/rate and is sent then,
unless ``--concurrency`` requests are already in flight (then it waits, and the lag
behind the schedule is reported); sending stops after ``--seconds`` either way. The
client is aiohttp: on this 2-core machine it spends about 0.4 ms of CPU per request
where httpx's AsyncClient spent 3.7-7.5 ms, and the client shares the cores with the
service. Kinds, drawn per request:

- **moderate** (70%): ``POST /v1/moderate`` with a cms key; news-like articles of 60-900
  words built from the corpus (some with an image, some attributing material to the
  Islamic State), 85% with one of 3,000 item ids (re-sent, sometimes edited), 15% without;
- **webhook** (20%): signed ``POST /v1/webhooks/pre-publish`` per Standard Webhooks; 10%
  repeat an earlier webhook-id (re-signed): half at once to the other process, half later;
- **override** (10%): a moderator's ``POST /v1/items/.../override`` on a stored item
  (block, force a decision, set or remove a label); one in six is a withdrawal (``DELETE``) of
  an override this run made (404 ``override_not_found`` when another moderator's withdrawal
  of that item came first counts as expected).

Checks (exit 1 when one fails): no unexpected status and no exception; no answer marked
unstored; every distinct webhook-id has exactly one delivery row, done, with exactly one
stored result, and every repeat got the same bytes; every queued callback (outbox row) was
delivered and the receiver saw each callback's webhook-id answered 2xx exactly once
(the receiver refuses a share of first attempts, so retries happen); no error line in
the servers' logs. Figures: requests by kind, p50/p99 per kind, achieved rate, lag
behind the schedule, RSS of each worker at start and end, CPU by process group.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import http.server
import json
import math
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import psycopg
from standardwebhooks import Webhook

from bench.loopback import (PUBLISHER, cpu_seconds, create_keys, drop_database, prepare_database, rss_mb, server_url,
                            signed_headers, start_servers, stop_servers, webhook_rows)
from bench.scaling import news_item

MIX = (("moderate", 0.70), ("webhook", 0.20), ("override", 0.10))
ITEM_IDS = 3000
WEBHOOK_ITEMS = 1500
REPEAT_SHARE = 0.10
NO_ID_SHARE = 0.15
EDIT_SHARE = 0.15
WITHDRAW_SHARE = 1 / 6
EXPECTED = {"moderate": {200}, "webhook": {200}, "override": {201}, "withdraw": {200, 404}}
ATTRIBUTED = [
    "<p>A new video purportedly put out by the Islamic State shows bodies in the street after airstrikes.</p>"
    '<figure><img src="https://cdn.example/{n}.jpg" alt="bodies"><figcaption>Still from a video released by Amaq'
    "</figcaption></figure>",
    "<p>The group's Amaq news agency released a statement claiming the attack on the checkpoint.</p>",
    "<p>Unconfirmed footage allegedly shows the aftermath of a shelling; it could not be independently verified.</p>",
]
OVERRIDES = [
    {"decision": "block", "reason": "policy_exception", "note": "soak"},
    {"decision": "publish_with_disclaimers", "reason": "newsworthy"},
    {"labels_set": [{"name": "graphic_violence", "severity": "graphic"}], "reason": "error"},
    {"labels_remove": ["unverified"], "reason": "verified"},
    {"decision": "hold_for_review", "reason": "error", "note": "second look"},
]


# -- content -------------------------------------------------------------------------------------

def articles(count: int, seed: int) -> list[dict]:
    """Varied news-like articles (title, HTML body, sometimes an image); some attribute material to a group."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        words = int(math.exp(rng.uniform(math.log(60), math.log(900))))
        item = news_item(rng, words)
        body = "".join(f"<p>{html.escape(p)}</p>" for p in item["body"].split("\n\n"))
        if rng.random() < 0.2:
            body = rng.choice(ATTRIBUTED).format(n=n) + body
        art = {"publisher": PUBLISHER, "type": "article", "title": item["title"], "body": body}
        if "media" in item:
            art["media"] = item["media"]
        out.append(art)
    return out


# -- the publisher's callback endpoint -----------------------------------------------------------

class Receiver:
    """Verifies each callback's signature; refuses a share of first attempts (503) to make the sender retry."""

    def __init__(self, secret: str, refuse_share: float, seed: int):
        self.webhook = Webhook(secret)
        self.refuse_share = refuse_share
        self.rng = random.Random(seed)
        self.ok: Counter[str] = Counter()  # webhook-id -> 2xx answers
        self.refused: Counter[str] = Counter()
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                wid = self.headers.get("webhook-id", "")
                try:
                    receiver.webhook.verify(body, {k.lower(): v for k, v in self.headers.items()})
                except Exception:  # noqa: BLE001 (any verification failure)
                    status = 400
                else:
                    with receiver.lock:
                        first = wid not in receiver.refused and wid not in receiver.ok
                        if first and receiver.rng.random() < receiver.refuse_share:
                            receiver.refused[wid] += 1
                            status = 503
                        else:
                            receiver.ok[wid] += 1
                            status = 200
                if status == 400:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/modlabel-callbacks"
        self.thread = threading.Thread(target=self.server.serve_forever, name="callback-receiver", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the load ------------------------------------------------------------------------------------

@dataclass
class Record:
    kind: str
    status: int
    seconds: float
    lag: float
    server: int
    note: str = ""


@dataclass
class Load:
    """The generator's state: what was stored (overrides need an item), what was sent (repeats)."""

    bases: list[str]
    secret: str
    cms: str
    moderators: list[str]
    pool: list[dict]
    rng: random.Random
    records: list[Record] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)  # item ids known to be stored
    stored_set: set[str] = field(default_factory=set)
    overridden: set[str] = field(default_factory=set)  # item ids with an override this run created, not withdrawn
    item_version: dict[int, int] = field(default_factory=dict)
    sent_webhooks: list[tuple[str, str, int]] = field(default_factory=list)  # (webhook-id, body, server)
    webhook_answers: dict[str, set[tuple[int, bytes]]] = field(default_factory=lambda: defaultdict(set))
    webhook_ids: set[str] = field(default_factory=set)
    repeats: int = 0
    unstored: int = 0
    errors: list[str] = field(default_factory=list)
    n: int = 0

    def remember(self, item_id: str) -> None:
        if item_id not in self.stored_set:
            self.stored_set.add(item_id)
            self.stored.append(item_id)

    def jobs(self):
        """The next request(s) to send: a list of coroutine factories (a racing repeat is two)."""
        self.n += 1
        r = self.rng.random()
        kind = "moderate" if r < MIX[0][1] else "webhook" if r < MIX[0][1] + MIX[1][1] else "override"
        if kind == "override" and not self.stored:
            kind = "moderate"
        server = self.n % len(self.bases)
        if kind == "moderate":
            return [self._moderate(server)]
        if kind == "webhook":
            return self._webhook(server)
        return [self._override(server)]

    def _moderate(self, server: int):
        rng = self.rng
        if rng.random() < NO_ID_SHARE:
            item, item_id = dict(rng.choice(self.pool)), None
        else:
            k = rng.randrange(ITEM_IDS)
            version = self.item_version.get(k, 0) + (1 if k in self.item_version and rng.random() < EDIT_SHARE else 0)
            self.item_version[k] = version
            item_id = f"soak-item-{k}"
            item = {**self.pool[(k * 7 + version * 13) % len(self.pool)], "id": item_id}
        return ("moderate", server, "/v1/moderate", {"json": item, "headers": {"Authorization": f"Bearer {self.cms}"}},
                item_id, "POST")

    def _webhook(self, server: int):
        rng = self.rng
        if self.sent_webhooks and rng.random() < REPEAT_SHARE:
            wid, body, first_server = rng.choice(self.sent_webhooks[-200:])
            self.repeats += 1
            other = (first_server + 1) % len(self.bases)
            return [("webhook", other, "/v1/webhooks/pre-publish", {"content": body, "wid": wid}, None, "POST")]
        wid = f"soak-{self.n}-{secrets.token_hex(4)}"
        k = rng.randrange(WEBHOOK_ITEMS)
        item = {**self.pool[(k * 11) % len(self.pool)], "id": f"soak-wh-{k}"}
        body = json.dumps(item)
        self.sent_webhooks.append((wid, body, server))
        self.webhook_ids.add(wid)
        job = ("webhook", server, "/v1/webhooks/pre-publish", {"content": body, "wid": wid}, item["id"], "POST")
        if rng.random() < REPEAT_SHARE / 2:  # the same delivery at once to the other process: a race
            self.repeats += 1
            return [job, ("webhook", (server + 1) % len(self.bases), job[2], job[3], None, "POST")]
        return [job]

    def _override(self, server: int):
        rng = self.rng
        item_id = rng.choice(self.stored)
        key = rng.choice(self.moderators)
        path = f"/v1/items/{PUBLISHER}/{item_id}/override"
        headers = {"Authorization": f"Bearer {key}"}
        if self.overridden and rng.random() < WITHDRAW_SHARE:
            item_id = rng.choice(sorted(self.overridden))
            self.overridden.discard(item_id)
            path = f"/v1/items/{PUBLISHER}/{item_id}/override"
            return ("withdraw", server, path, {"headers": headers}, None, "DELETE")
        return ("override", server, path, {"json": rng.choice(OVERRIDES), "headers": headers}, item_id, "POST")

    async def send(self, session: aiohttp.ClientSession, job, lag: float) -> None:
        kind, server, path, kw, item_id, method = job
        headers = dict(kw.get("headers") or {})
        wid = kw.get("wid")
        data = None
        if "json" in kw:
            data = json.dumps(kw["json"]).encode()
            headers["content-type"] = "application/json"
        elif wid is not None:
            data = kw["content"].encode()
            headers.update(signed_headers(self.secret, wid, kw["content"]))  # re-signed each time, like a retry
        t0 = time.perf_counter()
        try:
            async with session.request(method, self.bases[server] + path, data=data, headers=headers) as r:
                status, content, stored = r.status, await r.read(), r.headers.get("x-modlabel-stored")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.records.append(Record(kind, 0, time.perf_counter() - t0, lag, server, repr(exc)[:200]))
            self.errors.append(f"{kind} {path}: {exc!r}"[:300])
            return
        seconds = time.perf_counter() - t0
        if status not in EXPECTED[kind] or (status == 404 and b'"override_not_found"' not in content):
            self.errors.append(f"{kind} {method} {path}: {status} {content[:200].decode(errors='replace')}")
        if stored == "false":
            self.unstored += 1
        elif status == 200 and item_id is not None:
            self.remember(item_id)
        elif kind == "override" and status == 201:
            self.overridden.add(item_id)
        if wid is not None:
            self.webhook_answers[wid].add((status, content))
        self.records.append(Record(kind, status, seconds, lag, server))


async def sample_every(period: float, sample, out: list) -> None:
    """Append ``sample()`` every ``period`` seconds until cancelled."""
    while True:
        await asyncio.sleep(period)
        out.append(sample())


async def run_load(load: Load, *, seconds: float, rate: float, concurrency: int, sample=None,
                   samples: list | None = None) -> float:
    """Open loop at ``rate`` for ``seconds`` with at most ``concurrency`` in flight; wall seconds until all answered.

    Sending stops at ``seconds`` of wall time even when the schedule is behind (the service is slower
    than ``rate``): the run stays bounded, and the shortfall shows in the achieved rate and the lag.
    """
    sem = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task] = set()
    loop = asyncio.get_running_loop()
    # Keep-alive shorter than uvicorn's 5 s, so the client never reuses a connection the server is closing.
    connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=2)
    sampler = asyncio.create_task(sample_every(30.0, sample, samples)) if sample is not None else None
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        t0 = loop.time()
        i = 0
        while True:
            due = t0 + i / rate
            if due >= t0 + seconds or loop.time() >= t0 + seconds:
                break
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for job in load.jobs():
                await sem.acquire()
                lag = max(0.0, loop.time() - due)
                task = asyncio.create_task(load.send(client, job, lag))
                tasks.add(task)
                task.add_done_callback(lambda t: (tasks.discard(t), sem.release()))
            i += 1
        if tasks:
            await asyncio.wait(tasks, timeout=120)
        if sampler is not None:
            sampler.cancel()
        return loop.time() - t0


# -- measurements --------------------------------------------------------------------------------

def vm(pid: int, field_name: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == "postgres":
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def cpu_total(pids: list[int], *, reaped: bool = False) -> float:
    """CPU seconds of ``pids``; with ``reaped``, also of their children that exited (a pool's closed connections)."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
            if reaped:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime + cstime
        except (OSError, IndexError, ValueError):
            continue
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(math.ceil(q * len(values))) - 1)]


def wait_outbox_drained(url: str, timeout: float) -> tuple[int, int]:
    """(rows, rows not yet delivered and not given up) once nothing is due or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(url) as conn:
            total, pending = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE delivered_at IS NULL) FROM outbox").fetchone()
        if pending == 0 or time.monotonic() > deadline:
            return total, pending
        time.sleep(0.5)


def outbox_rows(url: str) -> list[tuple[int, bool, int]]:
    with psycopg.connect(url) as conn:
        return [(i, delivered, attempts) for i, delivered, attempts in conn.execute(
            "SELECT id, delivered_at IS NOT NULL, attempts FROM outbox ORDER BY id").fetchall()]


def log_levels(log_dir: Path) -> Counter:
    levels: Counter[str] = Counter()
    for path in log_dir.glob("server-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            try:
                levels[json.loads(line).get("level", "?")] += 1
            except (json.JSONDecodeError, AttributeError):
                levels["unparsed"] += 1
    return levels


def error_lines(log_dir: Path, limit: int = 5) -> list[str]:
    out = []
    for path in sorted(log_dir.glob("server-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"level":"error"' in line or '"level":"critical"' in line or "Traceback" in line:
                out.append(line[:300])
                if len(out) >= limit:
                    return out
    return out


# -- the run -------------------------------------------------------------------------------------

def soak(args) -> dict:
    rng = random.Random(args.seed)
    admin = server_url(args.postgres)
    db = prepare_database(admin, prefix="soak")
    procs = []
    log_dir = Path(tempfile.mkdtemp(prefix="modlabel-soak-"))
    receiver = Receiver(db.secret, args.callback_refuse, args.seed)
    try:
        cms, mod1, mod2 = create_keys(db.url, [("cms", PUBLISHER), ("moderator", PUBLISHER), ("moderator", PUBLISHER)])
        env = {"MODLABEL_RATE_LIMIT_PER_MINUTE": "0", "MODLABEL_OUTBOX_ENABLED": "true",
               "MODLABEL_OUTBOX_POLL_SECONDS": "1", "MODLABEL_OUTBOX_BACKOFF_SECONDS": "1",
               "MODLABEL_OUTBOX_BACKOFF_MAX_SECONDS": "5",
               "MODLABEL_CALLBACK_URLS": json.dumps({PUBLISHER: receiver.url}), "MODLABEL_LOG_LEVEL": "INFO",
               "MODLABEL_DB_POOL_SIZE": str(args.pool_size)}
        if args.rules_only:
            env["MODLABEL_CLASSIFIER_ENABLED"] = "false"
        t_start = time.perf_counter()
        procs, bases = start_servers(db.url, args.workers, env, log_dir=log_dir)
        startup = time.perf_counter() - t_start
        pool = articles(400, args.seed)
        # Warm-up: each process answers a few moderations (no id: nothing stored) before the clock starts.
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {cms}"}) as c:
            for base in bases:
                for item in pool[:10]:
                    c.post(base + "/v1/moderate", json=item).raise_for_status()
        pids = [p.pid for p in procs]
        rss_start = [rss_mb(pid) for pid in pids]
        cpu_servers0, cpu_pg0, busy0 = cpu_total(pids), cpu_total(postgres_pids(), reaped=True), machine_busy()
        cpu_self0 = time.process_time()
        load = Load(bases=bases, secret=db.secret, cms=cms, moderators=[mod1, mod2], pool=pool, rng=rng)
        timeline: list[list[float]] = []  # RSS of each worker every 30 s
        elapsed = asyncio.run(run_load(load, seconds=args.seconds, rate=args.rate, concurrency=args.concurrency,
                                       sample=lambda: [round(rss_mb(pid), 1) for pid in pids], samples=timeline))
        cpu_self = time.process_time() - cpu_self0
        cpu_servers, cpu_pg, busy1 = cpu_total(pids) - cpu_servers0, cpu_total(postgres_pids(), reaped=True) - cpu_pg0, machine_busy()
        rss_end = [rss_mb(pid) for pid in pids]
        hwm = [vm(pid, "VmHWM") for pid in pids]
        total_out, pending_out = wait_outbox_drained(db.url, timeout=args.drain_seconds)
        rows = outbox_rows(db.url)
        deliveries = webhook_rows(db.url)
        alive = all(p.poll() is None for p in procs)
    finally:
        stop_servers(procs)
        receiver.close()
        if not args.keep_db:
            drop_database(admin, db.url)
    return figures(args, load, elapsed=elapsed, startup=startup, rss_start=rss_start, rss_end=rss_end, hwm=hwm,
                   timeline=timeline,
                   cpu={"servers": cpu_servers, "postgres": cpu_pg, "generator": cpu_self,
                        "machine_busy_share": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])},
                   outbox=rows, pending_out=pending_out, deliveries=deliveries, receiver=receiver,
                   log_dir=log_dir, alive=alive, database=db.url.rsplit("/", 1)[-1])


def figures(args, load: Load, *, elapsed, startup, rss_start, rss_end, hwm, timeline, cpu, outbox, pending_out, deliveries,
            receiver: Receiver, log_dir: Path, alive: bool, database: str) -> dict:
    by_kind: dict[str, list[Record]] = defaultdict(list)
    for rec in load.records:
        by_kind[rec.kind].append(rec)
    kinds = {}
    for kind in ("moderate", "webhook", "override", "withdraw"):
        recs = by_kind.get(kind, [])
        lat = [r.seconds * 1000 for r in recs]
        kinds[kind] = {"requests": len(recs), "statuses": dict(sorted(Counter(str(r.status) for r in recs).items())),
                       "p50_ms": round(percentile(lat, 0.50), 1), "p99_ms": round(percentile(lat, 0.99), 1),
                       "max_ms": round(max(lat), 1) if lat else None}
    lags = [r.lag * 1000 for r in load.records]
    per_id = deliveries["per_id"]
    sent_ids = load.webhook_ids
    webhook_ok = (set(per_id) == sent_ids and all(v == ("done", 1) for v in per_id.values()))
    differing = [wid for wid, answers in load.webhook_answers.items() if len(answers) > 1]
    outbox_ids = {f"modlabel-outbox-{i}" for i, _, _ in outbox}
    ok_ids = receiver.ok
    callbacks = {
        "queued": len(outbox), "delivered_rows": sum(d for _, d, _ in outbox), "pending_or_given_up": pending_out,
        "attempts": sum(a for _, _, a in outbox), "refused_first_attempts": sum(receiver.refused.values()),
        "received_2xx_distinct": len(ok_ids), "received_2xx_total": sum(ok_ids.values()),
        "lost": len(outbox_ids - set(ok_ids)), "doubled": sum(1 for n in ok_ids.values() if n > 1),
        "unknown": len(set(ok_ids) - outbox_ids), "bad_signatures": receiver.bad_signatures,
    }
    levels = log_levels(log_dir)
    total = len(load.records)
    out = {
        "database": database, "workers": len(rss_start), "classifier": not args.rules_only,
        "seconds_target": args.seconds, "rate_target": args.rate, "concurrency": args.concurrency,
        "seconds": round(elapsed, 1), "requests": total, "rate_achieved": round(total / elapsed, 1),
        "lag_ms_p50": round(percentile(lags, 0.5), 1), "lag_ms_p99": round(percentile(lags, 0.99), 1),
        "lag_ms_max": round(max(lags), 1) if lags else None, "startup_seconds": round(startup, 1),
        "kinds": kinds, "errors": len(load.errors), "error_examples": load.errors[:5], "unstored_answers": load.unstored,
        "webhooks": {"distinct_ids": len(sent_ids), "repeats_sent": load.repeats, "delivery_rows": len(per_id),
                     "rows_not_done_or_not_one_result": sum(1 for v in per_id.values() if v != ("done", 1)),
                     "ids_with_differing_answers": len(differing),
                     "replayed": sum(1 for r in by_kind.get("webhook", []) if r.status == 200) - len(sent_ids)},
        "callbacks": callbacks, "stored_items": deliveries["items"], "stored_results": deliveries["results"],
        "rss_mb_start": [round(x, 1) for x in rss_start], "rss_mb_end": [round(x, 1) for x in rss_end],
        "rss_mb_peak": [round(x, 1) for x in hwm], "rss_mb_every_30s": timeline,
        "cpu_seconds": {k: round(v, 1) for k, v in cpu.items() if k != "machine_busy_share"},
        "cpu_cores_used": {k: round(v / elapsed, 2) for k, v in cpu.items() if k != "machine_busy_share"},
        "machine_busy_share": round(cpu["machine_busy_share"], 3),
        "cpu_cores_other": round(max(0.0, cpu["machine_busy_share"] * (os.cpu_count() or 1)
                                     - sum(v for k, v in cpu.items() if k != "machine_busy_share") / elapsed), 2),
        "server_log_levels": dict(levels), "server_error_lines": error_lines(log_dir),
        "server_cpu_ms_per_request": round(cpu["servers"] / max(1, total) * 1000, 1),
    }
    out["checks"] = {
        "no_errors": out["errors"] == 0,
        "nothing_unstored": load.unstored == 0,
        "one_result_per_webhook_id": webhook_ok,
        "repeats_answered_identically": not differing,
        "callbacks_none_lost": callbacks["lost"] == 0 and pending_out == 0 and callbacks["unknown"] == 0,
        "callbacks_none_doubled": callbacks["doubled"] == 0 and callbacks["bad_signatures"] == 0,
        "no_error_in_server_logs": not out["server_error_lines"],
        "servers_alive": alive,
    }
    out["ok"] = all(out["checks"].values())
    if out["ok"]:
        shutil.rmtree(log_dir, ignore_errors=True)
    else:
        out["server_logs"] = str(log_dir)  # kept for a look
    return out


def cost(args) -> dict:
    """Server CPU per request of each kind, sent one at a time to one server process (``--cost N``).

    Where the soak's CPU goes: ``moderate`` without an id is the framework and the pipeline;
    with an id it also stores (item, result, content, media, audit: one transaction); a new
    webhook-id adds its claim; an override re-derives the decision and stores it with its audit
    row and callback. The client's and PostgreSQL's CPU are not in these figures.
    """
    rng = random.Random(args.seed)
    admin = server_url(args.postgres)
    db = prepare_database(admin, prefix="soakcost")
    procs = []
    log_dir = Path(tempfile.mkdtemp(prefix="modlabel-soak-cost-"))
    try:
        cms, mod = create_keys(db.url, [("cms", PUBLISHER), ("moderator", PUBLISHER)])
        env = {"MODLABEL_RATE_LIMIT_PER_MINUTE": "0", "MODLABEL_LOG_LEVEL": "INFO"}
        if args.rules_only:
            env["MODLABEL_CLASSIFIER_ENABLED"] = "false"
        procs, (base,) = start_servers(db.url, 1, env, log_dir=log_dir)
        pool = articles(400, args.seed)
        n = args.cost
        out: dict[str, dict] = {}
        with httpx.Client(timeout=60) as c:
            auth = {"Authorization": f"Bearer {cms}"}
            for item in pool[:20]:
                c.post(base + "/v1/moderate", json=item, headers=auth).raise_for_status()

            def measure(kind: str, send) -> None:
                cpu0, pg0, t0 = cpu_seconds(procs[0].pid), cpu_total(postgres_pids(), reaped=True), time.perf_counter()
                for i in range(n):
                    r = send(i)
                    if r.status_code >= 300:
                        raise SystemExit(f"{kind}: {r.status_code} {r.text[:300]}")
                cpu, pg = cpu_seconds(procs[0].pid) - cpu0, cpu_total(postgres_pids(), reaped=True) - pg0
                out[kind] = {"server_cpu_ms": round(cpu / n * 1000, 2), "postgres_cpu_ms": round(pg / n * 1000, 2),
                             "wall_ms": round((time.perf_counter() - t0) / n * 1000, 2)}

            measure("moderate, no id", lambda i: c.post(base + "/v1/moderate", json=pool[i % len(pool)], headers=auth))
            measure("moderate, id", lambda i: c.post(base + "/v1/moderate", headers=auth,
                                                     json={**pool[i % len(pool)], "id": f"cost-{i}"}))

            def webhook(i: int):
                body = json.dumps({**pool[(i + 7) % len(pool)], "id": f"cost-wh-{i}"})
                return c.post(base + "/v1/webhooks/pre-publish", content=body,
                              headers=signed_headers(db.secret, f"cost-{i}-{secrets.token_hex(3)}", body))

            measure("webhook", webhook)
            measure("override", lambda i: c.post(base + f"/v1/items/{PUBLISHER}/cost-{i}/override",
                                                 headers={"Authorization": f"Bearer {mod}"},
                                                 json=OVERRIDES[rng.randrange(len(OVERRIDES))]))
    finally:
        stop_servers(procs)
        shutil.rmtree(log_dir, ignore_errors=True)
        if not args.keep_db:
            drop_database(admin, db.url)
    return {"requests_per_kind": args.cost, "classifier": not args.rules_only, "kinds": out}


def print_table(f: dict) -> None:
    print(f"soak: {f['seconds']} s, target {f['rate_target']:g} req/s, achieved {f['rate_achieved']} req/s, "
          f"{f['requests']} requests, {f['workers']} workers on PostgreSQL ({f['database']}), "
          f"classifier {'on' if f['classifier'] else 'off'}")
    print(f"generator lag behind schedule: p50 {f['lag_ms_p50']} ms, p99 {f['lag_ms_p99']} ms, max {f['lag_ms_max']} ms")
    print()
    print("| kind | requests | statuses | p50 ms | p99 ms | max ms |")
    print("|---|---:|---|---:|---:|---:|")
    for kind, k in f["kinds"].items():
        statuses = ", ".join(f"{s}: {n}" for s, n in k["statuses"].items())
        print(f"| {kind} | {k['requests']} | {statuses} | {k['p50_ms']} | {k['p99_ms']} | {k['max_ms']} |")
    print()
    w, c = f["webhooks"], f["callbacks"]
    print(f"errors {f['errors']}; unstored answers {f['unstored_answers']}")
    print(f"webhooks: {w['distinct_ids']} distinct ids, {w['repeats_sent']} repeats sent, {w['delivery_rows']} delivery rows, "
          f"{w['rows_not_done_or_not_one_result']} not (done, 1 result); {w['ids_with_differing_answers']} ids answered differently")
    print(f"callbacks: {c['queued']} queued, {c['delivered_rows']} marked delivered, {c['attempts']} attempts "
          f"({c['refused_first_attempts']} refused by the receiver on purpose), receiver 2xx: {c['received_2xx_distinct']} "
          f"distinct / {c['received_2xx_total']} total; lost {c['lost']}, doubled {c['doubled']}")
    print(f"server CPU per request {f['server_cpu_ms_per_request']} ms (the ceiling on {os.cpu_count()} cores: "
          f"{(os.cpu_count() or 1) * 1000 / max(f['server_cpu_ms_per_request'], 0.1):.0f} req/s with nothing else running)")
    print(f"RSS MB per worker: start {f['rss_mb_start']}, end {f['rss_mb_end']}, peak {f['rss_mb_peak']}")
    if f["rss_mb_every_30s"]:
        print("RSS MB every 30 s:", " ".join("/".join(f"{x:.0f}" for x in row) for row in f["rss_mb_every_30s"]))
    print(f"CPU cores used: {f['cpu_cores_used']}, anything else {f['cpu_cores_other']}; "
          f"machine busy {f['machine_busy_share']:.0%} of {os.cpu_count()} cores")
    print(f"server log lines by level: {f['server_log_levels']}")
    for line in f["error_examples"] + f["server_error_lines"]:
        print("  ", line)
    if "server_logs" in f:
        print("server logs kept in", f["server_logs"])
    print("checks:", ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in f["checks"].items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--rate", type=float, default=200.0, help="Target requests per second (all kinds).")
    ap.add_argument("--concurrency", type=int, default=128, help="Most requests in flight at once.")
    ap.add_argument("--workers", type=int, default=2, help="Service processes.")
    ap.add_argument("--pool-size", type=int, default=10, help="MODLABEL_DB_POOL_SIZE of each process.")
    ap.add_argument("--postgres", help="PostgreSQL server URL (a database is created on it for the run).")
    ap.add_argument("--rules-only", action="store_true", help="Run the servers without the learned stage.")
    ap.add_argument("--callback-refuse", type=float, default=0.05, help="Share of callbacks refused on first attempt.")
    ap.add_argument("--drain-seconds", type=float, default=60.0, help="How long to wait for the outbox to empty.")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")
    ap.add_argument("--cost", type=int, metavar="N", help="Instead of the soak: the server CPU of N requests of "
                    "each kind sent one at a time to one process.")
    args = ap.parse_args(argv)
    if args.cost:
        figures_ = cost(args)
        print(json.dumps(figures_, sort_keys=True) if args.json else "\n".join(
            f"{kind:18} server CPU {k['server_cpu_ms']:6.2f} ms/request, PostgreSQL {k['postgres_cpu_ms']:5.2f} ms, "
            f"wall {k['wall_ms']:6.2f} ms" for kind, k in figures_["kinds"].items()))
        return 0
    result = soak(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print_table(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
