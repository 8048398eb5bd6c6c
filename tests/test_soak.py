"""A short soak (bench/soak.py) in CI: mixed traffic on two processes, no error, no lost or doubled delivery."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_server_url

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_short_soak_has_no_errors_and_no_lost_or_doubled_deliveries():
    server = postgres_server_url()
    if server is None:
        pytest.skip("PostgreSQL not available: set MODLABEL_TEST_POSTGRES_URL or DATABASE_URL, or run a server on 127.0.0.1:5432")
    pytest.importorskip("aiohttp", reason="the soak's load generator needs aiohttp (the test extra)")
    out = subprocess.run([sys.executable, "-m", "bench.soak", "--seconds", "10", "--rate", "30", "--rules-only",
                          "--postgres", server, "--drain-seconds", "15", "--callback-refuse", "0.2", "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip(), out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["checks"] == {
        "no_errors": True, "nothing_unstored": True, "one_result_per_webhook_id": True,
        "repeats_answered_identically": True, "callbacks_none_lost": True, "callbacks_none_doubled": True,
        "no_error_in_server_logs": True, "servers_alive": True}, {k: figures[k] for k in ("error_examples", "callbacks",
                                                                                            "webhooks", "server_error_lines")}
    kinds = figures["kinds"]
    assert kinds["moderate"]["requests"] > 50 and kinds["webhook"]["requests"] > 10 and kinds["override"]["requests"] > 3
    assert figures["webhooks"]["repeats_sent"] > 0 and figures["webhooks"]["delivery_rows"] == figures["webhooks"]["distinct_ids"]
    assert figures["callbacks"]["queued"] > 0 and figures["callbacks"]["received_2xx_distinct"] == figures["callbacks"]["queued"]
    assert figures["workers"] == 2 and all(r > 0 for r in figures["rss_mb_end"])
    assert out.returncode == 0
