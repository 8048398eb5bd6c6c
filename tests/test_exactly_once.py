"""Two service processes on one PostgreSQL database: each webhook-id stored once, repeats answered identically."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_server_url

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "exactly_once.py"


@pytest.mark.postgres
def test_exactly_once_across_two_processes():
    server = postgres_server_url()
    if server is None:
        pytest.skip("PostgreSQL not available: set MODLABEL_TEST_POSTGRES_URL or DATABASE_URL, or run a server on 127.0.0.1:5432")
    out = subprocess.run([sys.executable, str(SCRIPT), "--deliveries", "100", "--duplicates", "0.2", "--concurrency", "16",
                          "--rules-only", "--postgres", server, "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.stdout.strip(), out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["checks"] == {"one_result_per_webhook_id": True, "repeats_answered_identically": True, "no_5xx": True}, figures
    assert figures["requests"] == 100 and figures["unique_webhook_ids"] == 80 and figures["stored_results"] == 80
    assert figures["answered_from_storage"] == 20
    assert out.returncode == 0
