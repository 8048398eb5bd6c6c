"""HTTP: ``/v1/moderate`` against a bare echo route, side by side, on one server.

    python -m bench.http [--workers 1 2] [--seconds 10] [--no-ids] [--postgres URL]
    python -m bench.http --store-cost [--postgres URL]   # SQL statements and CPU per stored result

``create_bench_app`` (an app factory for ``uvicorn --factory``) builds the real
application with ``service.app.create_app`` and adds ``POST /bench/echo``: an
``async def`` route that parses the same ``ContentItem`` model and returns it.
Both routes therefore run behind the same middleware (request id, access log,
latency histogram, body-size limit) in the same uvicorn process with the same
flags as ``modlabel serve`` (``--log-level info --no-access-log``), bound to
127.0.0.1 on a free port, with a temporary ``MODLABEL_DATA_DIR``.

Load: wrk when it is on PATH and ``BENCH_LOAD`` is not ``httpx`` (one thread,
32 connections, a Lua script that posts a pool of 64 varied 800-word articles,
sends the API key when auth is on, stops at a request count and at a
duration), else a closed-loop httpx client bounded the same way. Items carry no ``id``, so nothing is stored; the
``moderate+id`` rows give every request a fresh id (one SQLite write each; with ``--postgres URL``, one
write to a scratch database created on that server and dropped afterwards).

Everything started here is stopped (its own process group) on exit or error.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import orjson

from bench.batch import REPO, modlabel_cmd, scan_env
from bench.scaling import news_item

ECHO_PATH = "/bench/echo"
MODERATE_PATH = "/v1/moderate"
CONNECTIONS = 32
RATE_LIMIT_OFF = str(10**9)  # the per-key limiter stays in the path, but never refuses a benchmark request


# -- the app under test --------------------------------------------------------------------------

def create_bench_app():
    """The real app plus an ``async def`` echo route parsing the same model (for ``uvicorn --factory``)."""
    from service.app import create_app
    from service.responses import JsonResponse
    from service.schemas import ContentItem

    app = create_app()

    async def bench_echo(item: ContentItem) -> JsonResponse:
        return JsonResponse(item.model_dump(exclude_none=True))

    bench_echo.__annotations__ = {"item": ContentItem, "return": JsonResponse}  # resolved, not strings (PEP 563)

    app.add_api_route(ECHO_PATH, bench_echo, methods=["POST"], include_in_schema=False)
    # As service/main.py does for `modlabel serve`: what start-up loaded is left out of the collector's full passes.
    gc.collect()
    gc.freeze()
    return app


# -- processes -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: Path, database_url: str | None = None) -> dict:
    env = scan_env(data_dir)
    env["MODLABEL_RATE_LIMIT_PER_MINUTE"] = RATE_LIMIT_OFF
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if database_url:  # a server database instead of the embedded SQLite (``--postgres``)
        env["DATABASE_URL"] = database_url
        env["MODLABEL_MIGRATE_ON_START"] = "true"
    return env


@contextmanager
def scratch_postgres(server_url: str | None):
    """A fresh database ``modlabel_bench_<random>`` on ``server_url`` (dropped afterwards); None without a URL."""
    if not server_url:
        yield None
        return
    import secrets as _secrets

    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(server_url.replace("postgresql+psycopg://", "postgresql://"))
    name = f"modlabel_bench_{_secrets.token_hex(4)}"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def auth_required() -> bool:
    """Whether the API-keys work has landed (``service.deps.require_role``)."""
    try:
        import service.deps as deps
    except Exception:  # noqa: BLE001 (a half-edited tree: the probe below decides)
        return False
    return hasattr(deps, "require_role")


def create_api_key(env: dict) -> str:
    """``modlabel keys create --role admin`` in the bench's data dir; the key is its last line."""
    proc = subprocess.run([*modlabel_cmd(), "keys", "create", "--role", "admin"], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"modlabel keys create failed ({proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).decode(errors='replace')[-1000:]}")
    lines = [line.strip() for line in proc.stdout.decode().splitlines() if line.strip()]
    if not lines:
        raise RuntimeError("modlabel keys create printed no key")
    return lines[-1].split()[-1]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid and b"resource_tracker" not in cmdline:
                out.append(int(entry))
    return sorted(out)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class Server:
    """``uvicorn bench.http:create_bench_app --factory`` on 127.0.0.1; use as a context manager."""

    def __init__(self, workers: int, env: dict, log_path: Path):
        self.workers, self.env, self.log_path = workers, env, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> "Server":
        cmd = [sys.executable, "-m", "uvicorn", "bench.http:create_bench_app", "--factory",
               "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
               "--log-level", "info", "--no-access-log"]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(timeout=120)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    if self.workers == 1 or len(self.worker_pids()) >= self.workers:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: uvicorn itself with one worker, its children with several."""
        if self.workers == 1:
            return [self.proc.pid]
        return _children(self.proc.pid)

    def rss_mb(self) -> list[float]:
        return [rss_mb(pid) for pid in self.worker_pids()]

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the server's own process group (uvicorn and its workers), SIGKILL after 15 s."""
        if self.proc is not None:
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)  # the group this Popen created (start_new_session)
                except ProcessLookupError:
                    break  # nothing of it is left
                try:
                    self.proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue
                if not _group_alive(self.proc.pid):
                    break
        if self._log is not None:
            self._log.close()
            self._log = None


# -- load ----------------------------------------------------------------------------------------

WRK_LUA = r"""
local bodies = {}
for line in io.lines(__BODIES__) do bodies[#bodies + 1] = line end
local path = __PATH__
local with_ids = __WITH_IDS__
local threads = {}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
__AUTH__
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  limit = tonumber(args[1]) or 0
  counter = (tid or 1) * 7919
  answered = 0
  bad = 0
  first_bad = ""
end
function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  if with_ids then
    body = '{"id":"wrk-' .. tid .. '-' .. counter .. '",' .. string.sub(body, 2)
  end
  return wrk.format(nil, path, nil, body)
end
function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
  if limit > 0 and answered >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local nbad, first = 0, ""
  for _, t in ipairs(threads) do
    nbad = nbad + (t:get("bad") or 0)
    if first == "" then first = t:get("first_bad") or "" end
  end
  local e = summary.errors
  io.write(string.format("BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%d,\"connect\":%d,\"read\":%d,\"write\":%d,\"timeout\":%d,\"status\":%d,\"bad\":%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.timeout, e.status, nbad))
  io.write("BENCH_FIRST_BAD " .. string.gsub(first, "\n", " ") .. "\n")
end
"""


def _lua_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_available() -> bool:
    """wrk on PATH, unless ``BENCH_LOAD=httpx`` asks for the Python client."""
    return os.environ.get("BENCH_LOAD", "auto") != "httpx" and shutil.which("wrk") is not None


def run_wrk(url: str, path: str, bodies_file: Path, *, key: str | None, seconds: float, limit: int,
            with_ids: bool = False, connections: int = CONNECTIONS, threads: int = 1) -> dict:
    """One wrk run bounded by ``seconds`` and ``limit`` requests; latencies in ms."""
    auth = f'wrk.headers["Authorization"] = {_lua_quote("Bearer " + key)}' if key else ""
    script = (WRK_LUA.replace("__BODIES__", _lua_quote(str(bodies_file))).replace("__PATH__", _lua_quote(path))
              .replace("__WITH_IDS__", "true" if with_ids else "false").replace("__AUTH__", auth))
    lua = bodies_file.with_name(f"wrk-{os.getpid()}-{time.monotonic_ns()}.lua")
    lua.write_text(script)
    per_thread = max(1, math.ceil(limit / threads))
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
           "-s", str(lua), url + path, "--", str(per_thread)]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=seconds + 60)
    finally:
        lua.unlink(missing_ok=True)
    out = proc.stdout.decode(errors="replace")
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out[-1500:]} {proc.stderr.decode(errors='replace')[-1500:]}")
    raw = orjson.loads(line.split(" ", 1)[1])
    first_bad = next((ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith("BENCH_FIRST_BAD ") and " " in ln), "").strip()
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    secs = raw["duration_us"] / 1e6
    # wrk always runs for its full -d (its main thread sleeps), so a run stopped by the count has idle time at the end
    return {"tool": "wrk", "requests": raw["requests"], "seconds": secs, "rps": raw["requests"] / secs,
            "count_bounded": raw["requests"] >= per_thread * threads,
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "max_ms": raw["max_us"] / 1000, "errors": errors, "non_200": raw["bad"], "first_bad": first_bad}


def run_httpx(url: str, path: str, bodies_file: Path, *, key: str | None, seconds: float, limit: int,
              with_ids: bool = False, connections: int = CONNECTIONS) -> dict:
    """Closed loop: ``connections`` tasks, each sending its next request when the last answer arrives."""
    import httpx

    bodies = bodies_file.read_bytes().splitlines()
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"

    async def go() -> dict:
        latencies: list[float] = []
        state = {"sent": 0, "bad": 0, "errors": 0, "first_bad": ""}
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10, headers=headers) as client:
            start = time.perf_counter()
            deadline = start + seconds

            async def worker(wid: int) -> None:
                while state["sent"] < limit and time.perf_counter() < deadline:
                    n = state["sent"] = state["sent"] + 1
                    body = bodies[(n + wid) % len(bodies)]
                    if with_ids:
                        body = b'{"id":"httpx-%d",' % n + body[1:]
                    t = time.perf_counter()
                    try:
                        r = await client.post(path, content=body)
                    except httpx.HTTPError:
                        state["errors"] += 1
                        continue
                    latencies.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        state["bad"] += 1
                        state["first_bad"] = state["first_bad"] or f"{r.status_code} {r.text[:300]}"

            await asyncio.gather(*(worker(i) for i in range(connections)))
            elapsed = time.perf_counter() - start
        latencies.sort()
        pct = (lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000) if latencies else (lambda q: float("nan"))
        return {"tool": "httpx", "requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
                "count_bounded": state["sent"] >= limit,
                "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0),
                "errors": state["errors"], "non_200": state["bad"], "first_bad": state["first_bad"]}

    return asyncio.run(go())


def settle(url: str, timeout: float = 20.0) -> None:
    """Wait until the server answers /healthz promptly: requests a finished run left queued are done.

    (When the load generator stops, up to CONNECTIONS requests may still be waiting in the server; a
    run started right away would queue behind them.)
    """
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=timeout) as client:
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                client.get(url + "/healthz")
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t < 0.02:
                return
            time.sleep(0.05)


def load(url: str, path: str, bodies_file: Path, **kw) -> dict:
    """One bounded run (wrk, or the httpx client), after the server has finished earlier work."""
    settle(url)
    return (run_wrk if wrk_available() else run_httpx)(url, path, bodies_file, **kw)


def write_bodies(path: Path, items: list[dict]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(it) for it in items) + b"\n")
    return path


def probe(server: Server, key: str | None, body: bytes) -> tuple[int, str]:
    import httpx

    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    r = httpx.post(server.url + MODERATE_PATH, content=body, headers=headers, timeout=30)
    return r.status_code, r.text[:500]


KEY_PATTERN = re.compile(rb"\bmlk_[A-Za-z0-9]+_[A-Za-z0-9_\-]{20,}")


_CREATE_KEY_PY = """
from service.auth import create_key
from service.config import Settings
from service.storage import Storage
storage = Storage(Settings())
with storage.session() as session:
    _, key = create_key(session, role="admin", actor="bench")
storage.engine.dispose()
print(key)
"""


def try_create_api_key(env: dict) -> str | None:
    """``modlabel keys create --role admin``; while that command is not there, ``service.auth.create_key``."""
    try:
        return create_api_key(env)
    except RuntimeError as exc:
        if "No such command" not in str(exc):
            raise
    proc = subprocess.run([sys.executable, "-c", _CREATE_KEY_PY], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=120)
    lines = proc.stdout.decode().split()
    return lines[-1] if proc.returncode == 0 and lines else None


@contextmanager
def bench_server(workers: int, tmp: Path, key: str | None = None, database_url: str | None = None):
    """A started server and the API key to use (None when auth is off): ``with bench_server(1, tmp) as (server, key)``.

    With auth on, the key comes from ``modlabel keys create --role admin`` (its last line), else from the
    admin key the server prints on its first start. Pass it back in for the next server on the same ``tmp``.
    """
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    env = server_env(data, database_url)
    if key is None and auth_required():
        key = try_create_api_key(env)
    body = orjson.dumps(news_item(random.Random(0), 100))
    with Server(workers, env, tmp / f"server-{workers}w.log") as server:
        status, text = probe(server, key, body)
        if status in (401, 403):
            found = KEY_PATTERN.search(server.log_path.read_bytes())
            key = found.group(0).decode() if found else (key or try_create_api_key(env))
            status, text = probe(server, key, body)
        if status != 200:
            raise RuntimeError(f"POST {MODERATE_PATH} answered {status}: {text}\n{server.log_tail()}")
        yield server, key


# -- the benchmark -------------------------------------------------------------------------------

def run(workers: tuple[int, ...] = (1, 2), seconds: float = 10.0, with_ids: bool = True,
        warmup_seconds: float = 2.0, limit: int = 200_000, postgres: str | None = None) -> dict:
    rows = []
    with tempfile.TemporaryDirectory(prefix="modlabel-bench-http-") as tmp, scratch_postgres(postgres) as database_url:
        tmp = Path(tmp)
        items = [news_item(random.Random(1000 + i), 800) for i in range(64)]
        bodies = write_bodies(tmp / "bodies.jsonl", items)
        payload = sum(len(orjson.dumps(it)) for it in items) / len(items)
        auth, key = False, None
        for n in workers:
            with bench_server(n, tmp, key, database_url) as (server, key):
                auth = auth or key is not None
                kw = {"key": key, "limit": limit}
                load(server.url, MODERATE_PATH, bodies, seconds=warmup_seconds, **kw)
                load(server.url, ECHO_PATH, bodies, seconds=warmup_seconds, **kw)
                runs = [("echo", ECHO_PATH, False), ("moderate", MODERATE_PATH, False)]
                if with_ids:
                    runs.append(("moderate+id", MODERATE_PATH, True))
                result = {}
                pids = server.worker_pids()
                for name, path, ids in runs:
                    # With several workers, whichever worker wakes first may accept all 32 connections
                    # (one shared listening socket): the busiest worker's share of the CPU shows it, and
                    # such a row is run again, at most twice, on fresh connections.
                    for attempt in range(3 if n > 1 else 1):
                        before = [cpu_seconds(pid) for pid in pids]
                        r = load(server.url, path, bodies, seconds=seconds, with_ids=ids, **kw)
                        used = [cpu_seconds(pid) - b for pid, b in zip(pids, before)]
                        share = max(used) / sum(used) if sum(used) > 0 else 1.0
                        # Server CPU per answered request: unlike req/s, hardly moved by what else runs on the machine.
                        cpu_ms = 1000 * sum(used) / r["requests"] if r["requests"] else float("nan")
                        r.update(route=name, workers=n, busiest_worker_share=share, reruns=attempt, cpu_ms=cpu_ms)
                        if name not in result or share < result[name]["busiest_worker_share"]:
                            result[name] = r
                        if share <= 0.75:
                            break
                rss = server.rss_mb()
            for name, r in result.items():
                r["ratio"] = r["rps"] / result["echo"]["rps"]
                r["rss_mb"] = max(rss)
                rows.append(r)
    return {"rows": rows, "payload_bytes": payload, "auth": auth, "tool": rows[0]["tool"] if rows else "",
            "connections": CONNECTIONS, "seconds": seconds, "database": "postgresql" if postgres else "sqlite"}


def store_cost(n: int = 200, postgres: str | None = None) -> list[dict]:
    """In-process cost of storing one ``/v1/moderate`` result (``Services._store_api_result``, one transaction).

    SQL statements counted with an SQLAlchemy ``before_cursor_execute`` hook (SQLite's ``BEGIN IMMEDIATE``
    included; psycopg's implicit BEGIN and the COMMIT are not), and CPU per store, for items that are new,
    re-sent with the same content, and re-sent with changed content. Results come from the shipped pipeline.
    """
    from sqlalchemy import event

    from service.config import Settings
    from service.services import Services

    rows = []
    with tempfile.TemporaryDirectory(prefix="modlabel-bench-store-") as tmp, scratch_postgres(postgres) as url:
        values = {"data_dir": Path(tmp), "outbox_enabled": False, "migrate_on_start": True, "bootstrap_admin": False}
        if url:
            values["DATABASE_URL"] = url
        services = Services(Settings(**values))
        services.storage.migrate()
        statements: list[str] = []
        event.listen(services.storage.engine, "before_cursor_execute",
                     lambda _conn, _cursor, statement, *_args: statements.append(statement))
        pool = [news_item(random.Random(1000 + i), 800) for i in range(16)]

        def results(suffix: str = "") -> list[tuple[dict, dict]]:
            items = [{**pool[i % len(pool)], "id": f"item-{i}", "publisher": "default",
                      "title": pool[i % len(pool)].get("title", "") + suffix} for i in range(n)]
            return [(it, services.moderator.moderate(it)) for it in items]

        for it, res in results()[:10]:  # warm-up, on ids of their own
            services._store_api_result("default", "warm-" + it["id"], res, it, "bench")
        for case, pairs in (("new item", results()), ("same content again", None), ("changed content", results(" (updated)"))):
            pairs = pairs if pairs is not None else rows[-1]["pairs"]
            statements.clear()
            cpu = time.process_time()
            for it, res in pairs:
                services._store_api_result("default", it["id"], res, it, "bench")
            cpu = time.process_time() - cpu
            rows.append({"case": case, "pairs": pairs, "statements": len(statements) / len(pairs),
                         "cpu_ms": 1000 * cpu / len(pairs), "kinds": sorted({" ".join(st.split()[:3]) for st in statements})})
        services.storage.dispose()
    for row in rows:
        del row["pairs"]
    return rows


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--no-ids", action="store_true")
    ap.add_argument("--postgres", metavar="URL", help="store in a scratch database created (and dropped) on this "
                    "PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:5432/postgres, instead of SQLite")
    ap.add_argument("--store-cost", action="store_true", help="instead of the HTTP runs: SQL statements and CPU per "
                    "stored result, in this process (with --postgres: on a scratch database there)")
    args = ap.parse_args(argv)
    if args.store_cost:
        print(f"{'case':<20} {'statements':>10} {'CPU ms':>7}  (database {'postgresql' if args.postgres else 'sqlite'})")
        for row in store_cost(postgres=args.postgres):
            print(f"{row['case']:<20} {row['statements']:>10.1f} {row['cpu_ms']:>7.2f}  {'; '.join(row['kinds'])}")
        return 0
    res = run(tuple(args.workers), args.seconds, not args.no_ids, postgres=args.postgres)
    print(f"load: {res['tool']}, {res['connections']} connections, {res['seconds']:g} s per row, "
          f"~{res['payload_bytes'] / 1024:.1f} KB JSON (800-word articles), auth {'on' if res['auth'] else 'off'}, "
          f"database {res['database']}")
    print(f"{'route':<12} {'workers':>7} {'requests':>9} {'req/s':>8} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms/req':>10} {'errors':>7}")
    for r in res["rows"]:
        print(f"{r['route']:<12} {r['workers']:>7} {r['requests']:>9} {r['rps']:>8.0f} {r['ratio']:>6.2f} "
              f"{r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['cpu_ms']:>10.2f} {r['errors'] + r['non_200']:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
