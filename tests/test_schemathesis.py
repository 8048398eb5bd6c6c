"""Schemathesis against the app's own OpenAPI: every operation, generated data, in process.

Each operation of the app's ``/openapi.json`` gets its examples, fuzzed data (valid
and invalid) and Schemathesis' coverage cases, sent through the ASGI app (embedded
SQLite, the shipped classifier) with a global admin key. Every answer must be: no 5xx,
a status code the spec documents for that operation, the documented content type,
a body valid against the documented schema, the documented headers; invalid data
must be refused and valid data accepted. Bounded and derandomized (``MAX_EXAMPLES``
per operation, a fixed seed per operation) so a run is reproducible and short.

The schema is loaded when the module is collected (one pytest test per operation);
``schemathesis.pytest.from_fixture`` would load it lazily but does not work with
pytest 9 (it sets ``Function._nodeid``, which pytest 9 no longer has).
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from service.app import create_app
from service.auth import create_key
from service.config import Settings

MAX_EXAMPLES = 15

_DATA = Path(tempfile.mkdtemp(prefix="schemathesis-", dir=os.environ.get("MODLABEL_DATA_DIR")))
APP = create_app(Settings(
    data_dir=_DATA, classifier_enabled=True, outbox_enabled=False, migrate_on_start=True, bootstrap_admin=False,
    override_sweep_seconds=0, reload_on_sighup=False,
    rate_limit_per_minute=0))  # thousands of requests with one key would meet the limiter (tests/test_ratelimit.py)
APP.state.services.storage.migrate()
with APP.state.services.storage.session() as _session:
    ADMIN_KEY = create_key(_session, role="admin", actor="test")[1]
# The admin key is the credential of the spec's `apiKey` (bearer) scheme: every request carries it, and
# Schemathesis' ignored_auth check also sends requests without it or with a wrong one and wants 401.
CONFIG = SchemathesisConfig.from_dict({"auth": {"openapi": {"apiKey": {"bearer": ADMIN_KEY}}},
                                       "generation": {"deterministic": True}})
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)  # the app's own spec, live


# Operations whose schema-valid input can still be refused for what it means (a 4xx other than
# 401/403/404/409): Schemathesis' positive_data_acceptance check is skipped for them, every other check runs.
REFUSED_BY_MEANING = {
    "POST /v1/media/hash": "the bytes must decode as a JPEG, PNG, GIF, WebP or BMP image (415, 422)",
    "POST /v1/banks/{name}/entries/image": "the same image decoding as /v1/media/hash (415, 422)",
    "POST /v1/banks/{name}/entries": "a hash with fewer than 32 or more than 224 bits set is refused (422 invalid_entry)",
    "POST /v1/banks/{name}/import": "rows are parsed and checked after the body arrives (422 invalid_import)",
    "POST /v1/items/{publisher}/{item_id}/override": "expires_at must lie in the future (422)",
    "GET /v1/review-queue": "a cursor must be one the service returned (422)",
    "GET /v1/audit": "a cursor must be one the service returned (422)",
}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case):
    excluded = [checks.positive_data_acceptance] if case.operation.label in REFUSED_BY_MEANING else []
    case.call_and_validate(excluded_checks=excluded)


def test_the_exemptions_name_real_operations():
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert set(REFUSED_BY_MEANING) <= labels


# --- what Schemathesis found, pinned as plain tests -------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    return TestClient(APP, headers={"Authorization": f"Bearer {ADMIN_KEY}"})  # the app is already started


def test_success_responses_document_their_models():
    """The orjson response class was no JSONResponse, so FastAPI documented every 200 as `type: string`."""
    spec = APP.openapi()
    ok = spec["paths"]["/v1/moderate"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ModerationResult"}
    assert spec["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] != {"type": "string"}


def test_405_lists_every_method_of_the_path(client):
    r = client.request("OPTIONS", "/v1/banks")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["Allow"] == "GET, POST"
    r = client.patch("/v1/banks/b/entries/image", json={})  # not PATCH of an entry named "image"
    assert r.status_code == 405 and r.headers["Allow"] == "POST"


@pytest.mark.parametrize("path", [
    "/v1/banks/b/entries/9223372036854775808",
    "/v1/banks/b/entries?after_id=9223372036854775808",
    "/v1/bank-entries?after_id=9223372036854775808",
    "/v1/audit?cursor=99999999999999999999999999999999",
    "/v1/audit?cursor=%C2%B2",  # a digit to str.isdigit, not to int()
    "/v1/audit?since=0.5",  # a number of seconds: not the documented date-time
    "/v1/review-queue?cursor=" + base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", 1e30]').decode(),
    "/v1/review-queue?cursor=" + base64.urlsafe_b64encode(b'["2026-01-01T00:00:00", 1]').decode(),  # naive time
    "/v1/review-queue?cursor=" + base64.urlsafe_b64encode(b'{"a": 1}').decode(),
])
def test_odd_numbers_and_cursors_are_422_not_500(client, path):
    r = client.get(path)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"


def test_booleans_are_not_integers(client):
    assert client.post("/v1/banks", json={"name": "flags", "distance": False}).status_code == 422
    assert client.post("/v1/banks", json={"name": "flags", "flood_threshold": True}).status_code == 422
    created = client.post("/v1/banks", json={"name": "flags", "distance": 6.0})  # an integral number is an integer
    assert created.status_code == 201 and created.json()["distance"] == 6
    assert client.patch("/v1/banks/flags", json={"distance": True}).status_code == 422
    r = client.post("/v1/items/example-news/x/override", json={"reason": "verified", "expected_version": True})
    assert r.status_code == 422 and r.json()["error"]["field"] == "expected_version"
    assert client.get("/v1/audit", params={"since": "2026-01-01T00:00:00Z"}).status_code == 200


def test_a_malformed_multipart_body_is_a_documented_400(client):
    r = client.post("/v1/media/hash", content=b"--b\r\nNone--b--\r\n",
                    headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    assert "400" in APP.openapi()["paths"]["/v1/media/hash"]["post"]["responses"]
