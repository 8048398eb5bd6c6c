"""Rate limits: per API key (its own budget or the setting's) and per webhook publisher; 429 with Retry-After.

The counters' clock (``limits``' ``time.time``) is replaced by a fake one, so windows,
``Retry-After`` and the sliding of the window are exact and never depend on where in
the minute a test happens to run. Redis tests use ``MODLABEL_TEST_REDIS_URL`` or
127.0.0.1:6379 and skip with the reason when neither answers.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import types

import pytest
from fastapi.testclient import TestClient

import limits.storage.memory
import limits.strategies
import service.ratelimit
from service.app import create_app
from service.auth import create_key, parse_key_id, set_rate_limit
from service.db.secrets import add_secret
from service.errors import ApiError
from service.ratelimit import RateLimiter
from tests.support import REPO
from tests.test_webhooks import URL as WEBHOOK_URL
from tests.test_webhooks import signed

ITEM = {"title": "Council approves new park", "body": "The city council approved a new park on Tuesday."}


class Clock:
    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """The counters' clock, 20 s into a minute; advance it with ``clock.now += s``."""
    c = Clock(1_800_000_000.0 + 20)  # 1_800_000_000 is a whole minute
    fake = types.SimpleNamespace(time=c.time, monotonic=time.monotonic)
    for module in (limits.storage.memory, limits.strategies, service.ratelimit):
        monkeypatch.setattr(module, "time", fake)
    return c


def key(id_: str, own: int | None = None):
    from service.auth import KeyInfo

    return KeyInfo(id_, "cms", "example-news", own)


def refused(fn, *args) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args)
    return info.value


# --- the limiter on its own ---------------------------------------------------------------------------------------


def test_budget_per_key_then_429_with_retry_after_and_the_window_slides(clock):
    limiter = RateLimiter(per_minute=3)
    for _ in range(3):
        limiter.check_key(key("a"))
    err = refused(limiter.check_key, key("a"))
    assert (err.status, err.code, err.field) == (429, "rate_limited", "authorization")
    assert "3 requests a minute" in err.message and "mlk_" not in err.message
    assert err.headers["Retry-After"] == "40"  # the current window ends 40 s later: then one request fits
    limiter.check_key(key("b"))  # another key has its own budget
    clock.now += 39
    assert refused(limiter.check_key, key("a")).headers["Retry-After"] == "1"
    clock.now += 1.5  # a new window: the old one's 3 requests weigh 3 * 58.5/60, so one more fits, not two
    limiter.check_key(key("a"))
    refused(limiter.check_key, key("a"))
    clock.now += 120  # two minutes later the old requests count for nothing
    for _ in range(3):
        limiter.check_key(key("a"))


def test_zero_means_no_limit_and_a_keys_own_budget_wins(clock):
    off = RateLimiter(per_minute=0)
    for _ in range(500):
        off.check_key(key("a"))
    off.check_publisher("example-news")
    limiter = RateLimiter(per_minute=2)
    for _ in range(50):
        limiter.check_key(key("unlimited", own=0))  # a key's own 0: no limit for it
    limiter.check_key(key("strict", own=1))
    assert refused(limiter.check_key, key("strict", own=1)).status == 429
    limiter.check_key(key("generous", own=10))
    limiter.check_key(key("generous", own=10))
    limiter.check_key(key("generous", own=10))  # over the default of 2, within its own 10


def test_webhook_budget_defaults_to_the_key_budget_and_is_per_publisher(clock):
    limiter = RateLimiter(per_minute=2)
    assert limiter.webhook_per_minute == 2
    limiter.check_publisher("a")
    limiter.check_publisher("a")
    err = refused(limiter.check_publisher, "a")
    assert (err.status, err.code, err.field) == (429, "rate_limited", "publisher") and "'a'" in err.message
    limiter.check_publisher("b")
    limiter.check_key(key("a"))  # a key named like the publisher counts apart
    assert RateLimiter(per_minute=2, webhook_per_minute=0).webhook_per_minute == 0


def test_limiter_cost_per_request_is_small():
    """The hot path pays one memory-store hit per request; keep it well under 50 us (measured ~5-10 us)."""
    import timeit

    limiter = RateLimiter(per_minute=10**9)
    k = key("bench")
    runs = 5000
    best = min(timeit.repeat(lambda: limiter.check_key(k), number=runs, repeat=5)) / runs
    assert best < 50e-6, f"{best * 1e6:.1f} us per check"


# --- through the app --------------------------------------------------------------------------------------------


@pytest.fixture
def limited(storage, make_settings, clock):
    def make(**settings):
        return TestClient(create_app(make_settings(**settings)))

    return make


def test_key_over_budget_gets_json_429_and_others_continue(limited, auth):
    cms, other = auth("cms", "example-news"), auth("cms", "other-news")
    with limited(rate_limit_per_minute=3) as client:
        for _ in range(3):
            assert client.post("/v1/moderate", json=ITEM, headers=cms).status_code == 200
        r = client.post("/v1/moderate", json=ITEM, headers=cms)
        assert r.status_code == 429 and r.headers["content-type"].startswith("application/json")
        assert r.headers["Retry-After"] == "40"
        error = r.json()["error"]
        assert error["code"] == "rate_limited" and error["field"] == "authorization" and "3 requests a minute" in error["message"]
        assert client.get("/v1/items/example-news/x", headers=cms).status_code == 429  # every route of the key
        assert client.post("/v1/moderate", json=ITEM, headers=other).status_code == 200
        assert client.get("/healthz").status_code == 200  # open routes are not counted
        assert client.post("/v1/moderate", json=ITEM).status_code == 401  # no key: refused before counting


def test_keys_own_budget_from_the_database(limited, storage, auth):
    with storage.session() as s:
        strict = create_key(s, role="cms", publisher="example-news", rate_limit_per_minute=1)[1]
        free = create_key(s, role="cms", publisher="example-news", rate_limit_per_minute=0)[1]
    strict_h, free_h = {"Authorization": f"Bearer {strict}"}, {"Authorization": f"Bearer {free}"}
    with limited(rate_limit_per_minute=2, key_cache_seconds=0) as client:
        assert client.post("/v1/moderate", json=ITEM, headers=strict_h).status_code == 200
        assert client.post("/v1/moderate", json=ITEM, headers=strict_h).status_code == 429
        for _ in range(4):
            assert client.post("/v1/moderate", json=ITEM, headers=free_h).status_code == 200
        with storage.session() as s:
            assert set_rate_limit(s, key_id=parse_key_id(strict), rate_limit_per_minute=None, actor="test")
            assert not set_rate_limit(s, key_id="nope", rate_limit_per_minute=5)
            with pytest.raises(ValueError):
                set_rate_limit(s, key_id=parse_key_id(strict), rate_limit_per_minute=-1)
        assert client.post("/v1/moderate", json=ITEM, headers=strict_h).status_code == 200  # now the default of 2
        events = client.get("/v1/audit", params={"action": "key.rate_limit"}, headers=auth()).json()["events"]
        assert events[0]["before"]["rate_limit_per_minute"] == 1 and events[0]["after"]["rate_limit_per_minute"] is None


def test_zero_setting_turns_the_limiter_off(limited, auth):
    cms = auth("cms", "example-news")
    with limited(rate_limit_per_minute=0) as client:
        assert all(client.get("/v1/items/example-news/x", headers=cms).status_code == 404 for _ in range(30))


def test_webhook_limit_is_per_publisher_and_counts_only_signed_deliveries(limited, storage):
    with storage.session() as s:
        secret = add_secret(s, publisher="example-news").secret
        other = add_secret(s, publisher="other-news").secret
    body = json.dumps(ITEM)
    with limited(rate_limit_per_minute=1000, webhook_rate_limit_per_minute=2) as client:
        for i in range(5):  # unsigned junk cannot spend the publisher's budget
            bad = {**signed(body, "whsec_" + "A" * 32, f"junk-{i}"), "X-Modlabel-Publisher": "example-news"}
            assert client.post(WEBHOOK_URL, content=body, headers=bad).status_code == 401
        for i in range(2):
            h = {**signed(body, secret, f"ok-{i}"), "X-Modlabel-Publisher": "example-news"}
            assert client.post(WEBHOOK_URL, content=body, headers=h).status_code == 200
        h = {**signed(body, secret, "ok-2"), "X-Modlabel-Publisher": "example-news"}
        r = client.post(WEBHOOK_URL, content=body, headers=h)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert r.json()["error"]["field"] == "publisher" and r.headers["Retry-After"] == "40"
        h = {**signed(body, other, "o-1"), "X-Modlabel-Publisher": "other-news"}
        assert client.post(WEBHOOK_URL, content=body, headers=h).status_code == 200
    # the refused delivery was not recorded: the same webhook-id goes through once the budget allows
    with limited(rate_limit_per_minute=1000, webhook_rate_limit_per_minute=5) as client:
        h = {**signed(body, secret, "ok-2"), "X-Modlabel-Publisher": "example-news"}
        r = client.post(WEBHOOK_URL, content=body, headers=h)
        assert r.status_code == 200 and "X-Modlabel-Replayed" not in r.headers


def test_429_is_documented_with_retry_after_wherever_a_key_or_signature_is_counted():
    spec = json.loads((REPO / "openapi" / "openapi.json").read_text())
    counted = [(path, method) for path, ops in spec["paths"].items() for method, op in ops.items()
               if op.get("security") or path == "/v1/webhooks/pre-publish"]
    assert len(counted) > 20
    undocumented = [f"{method.upper()} {path}" for path, method in counted
                    if "Retry-After" not in spec["paths"][path][method]["responses"].get("429", {}).get("headers", {})]
    assert not undocumented


# --- shared counters in Redis -----------------------------------------------------------------------------------


def _redis_url() -> str:
    url = os.environ.get("MODLABEL_TEST_REDIS_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return "redis://127.0.0.1:6379/15"
    except OSError:
        pytest.skip("Redis not available: set MODLABEL_TEST_REDIS_URL or run a server on 127.0.0.1:6379")


def test_redis_counters_are_shared_by_workers():
    url = _redis_url()
    one, two = RateLimiter(per_minute=4, storage=url), RateLimiter(per_minute=4, storage=url)  # two workers
    assert not one.inline
    k = key(f"shared-{secrets.token_hex(4)}")
    try:
        for limiter in (one, two, one, two):
            limiter.check_key(k)
        for limiter in (one, two):
            err = refused(limiter.check_key, k)
            assert err.status == 429 and 1 <= int(err.headers["Retry-After"]) <= 60
        one.check_publisher(k.id)  # another scope, another budget
    finally:
        one.reset()


def test_redis_through_two_apps(storage, make_settings, auth):
    url = _redis_url()
    cms = auth("cms", "example-news")
    settings = make_settings(rate_limit_per_minute=3, rate_limit_storage=url)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        a.app.state.services.rate_limiter.reset()
        try:
            codes = [c.post("/v1/moderate", json=ITEM, headers=cms).status_code for c in (a, b, a, b)]
            assert codes == [200, 200, 200, 429]
        finally:
            a.app.state.services.rate_limiter.reset()


def test_unreachable_store_fails_open_and_warns_once(caplog):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limiter = RateLimiter(per_minute=1, storage=f"redis://:hunter2@127.0.0.1:{port}/0")
    with caplog.at_level(logging.WARNING, logger="modlabel.ratelimit"):
        for _ in range(5):
            limiter.check_key(key("a"))  # no 429 and no 500: requests pass while the store is down
    warnings = [r.getMessage() for r in caplog.records if r.name == "modlabel.ratelimit"]
    assert len(warnings) == 1 and "hunter2" not in warnings[0]


# --- the command line -------------------------------------------------------------------------------------------


def test_cli_keys_rate_limit(tmp_path):
    env = {"MODLABEL_DATA_DIR": str(tmp_path / "cli"), "PATH": "/usr/bin:/bin"}

    def run(*args, check=True):
        return subprocess.run([sys.executable, "-c", "from service.cli import app; app()", "keys", *args],
                              capture_output=True, text=True, env=env, check=check)

    last = run("create", "--role", "cms", "--publisher", "example-news", "--rate-limit", "120").stdout.split()[-1]
    key_id = parse_key_id(last)
    assert re.search(rf"{key_id}\tcms\texample-news\t\S+\trate limit 120/min", run("list").stdout)
    assert run("limit", key_id, "--per-minute", "0").returncode == 0
    assert "rate limit 0/min" in run("list").stdout
    assert run("limit", key_id, "--default").returncode == 0
    assert "rate limit" not in run("list").stdout
    assert run("limit", key_id, check=False).returncode != 0  # neither --per-minute nor --default
    assert run("limit", "nope", "--default", check=False).returncode == 1
    assert run("create", "--role", "cms", "--publisher", "p", "--rate-limit", "-5", check=False).returncode != 0
