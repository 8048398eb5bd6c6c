"""service.observability: /metrics, request ids, JSON logs that carry no secrets, multiprocess metrics."""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.config import Settings
from service.observability import JsonFormatter, configure_logging, route_template, uvicorn_log_config
from tests.test_client import create_key, live_server, server_env

ARTICLE = {"publisher": "example-news", "title": "Militants release video",
           "body": "A new video released by the Islamic State purportedly shows bodies lying in the street."}


def make_app(tmp_path, **overrides):
    values = {"data_dir": tmp_path / "data", "classifier_enabled": False, "bootstrap_admin": False, "outbox_enabled": False}
    values.update(overrides)
    return create_app(Settings(**values))


def keyed(app, **kwargs) -> TestClient:
    """A TestClient that sends a fresh admin key."""
    return TestClient(app, headers={"Authorization": f"Bearer {create_key(app.state.services.storage)}"}, **kwargs)


@pytest.fixture
def client(tmp_path):
    with keyed(make_app(tmp_path), raise_server_exceptions=False) as c:
        yield c


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted label items): value} of an exposition text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_per_route_template_decisions_labels_and_stages(client):
    before = client.get("/metrics").text
    r = client.post("/v1/moderate", json={**ARTICLE, "id": "obs-1"})
    assert r.status_code == 200
    assert client.get("/v1/items/example-news/obs-1").status_code == 200
    client.post("/v1/moderate", json={**ARTICLE, "publisher": "someone-new"})
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    after = response.text

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("modlabel_http_request_duration_seconds_count", method="POST", route="/v1/moderate", status="200") == 2
    assert delta("modlabel_http_request_duration_seconds_count", method="GET", route="/v1/items/{publisher}/{item_id}", status="200") == 1
    assert "obs-1" not in after  # raw paths never become label values
    assert delta("modlabel_decisions_total", publisher="example-news", decision="publish_with_disclaimers") == 1
    assert delta("modlabel_decisions_total", publisher="other", decision="publish_with_disclaimers") == 1  # unknown publisher
    assert "someone-new" not in after
    for label in ("extremist_source", "graphic_violence", "unverified"):
        assert delta("modlabel_labels_total", publisher="example-news", label=label) == 1
    assert delta("modlabel_pipeline_stage_duration_seconds_count", stage="rule") == 2
    build = [s for f in text_string_to_metric_families(after) for s in f.samples if s.name == "modlabel_build_info"]
    assert build and build[0].labels["policy_version"] == r.json()["policy_version"]
    assert build[0].labels["model_version"] == r.json()["model_version"]


def test_refused_and_unknown_requests_are_counted_without_raw_paths(tmp_path):
    with keyed(make_app(tmp_path, max_request_bytes=1000)) as c:
        assert c.post("/v1/moderate", content=b"{" + b" " * 2000 + b"}", headers={"content-type": "application/json"}).status_code == 413
        assert c.get("/does/not/exist-123").status_code == 404
        text = c.get("/metrics").text
    assert value(text, "modlabel_http_request_duration_seconds_count", method="POST", route="/v1/moderate", status="413") >= 1
    assert value(text, "modlabel_http_request_duration_seconds_count", method="GET", route="unmatched", status="404") >= 1
    assert "exist-123" not in text


def test_request_id_is_kept_when_sane_and_generated_otherwise(client):
    assert client.get("/healthz", headers={"X-Request-ID": "cms-req.42_a:b"}).headers["x-request-id"] == "cms-req.42_a:b"
    for bad in ("x" * 65, "has space", "semi;colon", "<script>"):
        rid = client.get("/healthz", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert rid != bad and len(rid) == 32
    generated = {client.get("/healthz").headers["x-request-id"] for _ in range(3)}
    assert len(generated) == 3


def test_every_response_carries_a_request_id_even_errors(tmp_path):
    app = make_app(tmp_path)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("kaboom")

    with keyed(app, raise_server_exceptions=False) as c:
        responses = [c.get("/nope"), c.post("/v1/moderate", json={"type": "podcast"}), c.get("/boom"),
                     c.post("/v1/moderate", content=b"{", headers={"content-type": "application/json"})]
    assert [r.status_code for r in responses] == [404, 422, 500, 400]
    for r in responses:
        assert r.headers.get("x-request-id")
        assert set(r.json()) == {"error"} and r.json()["error"]["code"]


def test_logs_are_json_lines_without_secrets_or_bodies(tmp_path, capsys):
    app = make_app(tmp_path, log_level="DEBUG")
    key = create_key(app.state.services.storage)  # a real key: the request succeeds, and the key must not be logged
    canaries = {"body": "CANARY-BODY-7f3a", "key": key, "sig": "v1,CANARYSIGNATURE+x/ZZ==",
                "title": "CANARY-TITLE-c0de", "query": "CANARY-QUERY-5e5e", "wrong key": "mlk_canary_WRONGKEY"}
    with TestClient(app, raise_server_exceptions=False) as c:
        capsys.readouterr()
        headers = {"Authorization": f"Bearer {canaries['key']}", "webhook-signature": canaries["sig"],
                   "webhook-id": "msg_canary", "webhook-timestamp": str(int(time.time())), "X-Request-ID": "req-log-test"}
        item = {"id": "log-1", "publisher": "example-news", "title": canaries["title"],
                "body": f"{canaries['body']} Photos show pools of blood on the road."}
        r1 = c.post(f"/v1/moderate?token={canaries['query']}", json=item, headers=headers)
        r2 = c.post("/v1/webhooks/pre-publish?publisher=example-news", json=item, headers=headers)
        r3 = c.post("/v1/moderate", json={"type": "podcast", "body": canaries["body"]}, headers=headers)
        r4 = c.post("/v1/moderate", json=item, headers={**headers, "Authorization": f"Bearer {canaries['wrong key']}"})
        logging.getLogger("modlabel.test").info("explicit", extra={"authorization": canaries["key"], "body": canaries["body"]})
    assert (r1.status_code, r2.status_code, r3.status_code, r4.status_code) == (200, 401, 422, 401)
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "modlabel.access"]
    assert len(access) == 4
    for line in access:
        assert line["request_id"] == "req-log-test"
        assert {"method", "route", "status", "duration_ms", "ts", "level"} <= set(line)
    assert [(a["route"], a["status"]) for a in access] == [
        ("/v1/moderate", 200), ("/v1/webhooks/pre-publish", 401), ("/v1/moderate", 422), ("/v1/moderate", 401)]
    explicit = next(line for line in lines if line["event"] == "explicit")
    assert explicit["authorization"] == "[redacted]" and explicit["body"] == "[redacted]"
    for name, canary in canaries.items():
        assert canary not in err, f"{name} leaked into the logs"
    assert "Bearer" not in err and "CANARY" not in err and "WRONGKEY" not in err


def test_json_formatter_keeps_exceptions_and_extra_fields():
    try:
        raise ValueError("bad thing")
    except ValueError:
        import sys

        record = logging.LogRecord("modlabel.x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    record.item_id = "i-1"
    record.api_key = "secret-value"
    out = json.loads(JsonFormatter().format(record))
    assert out["event"] == "failed here" and out["level"] == "error" and out["item_id"] == "i-1"
    assert out["api_key"] == "[redacted]" and out["exc_type"] == "ValueError" and "bad thing" in out["exc"]


def test_uvicorn_log_config_makes_the_supervisor_lines_json(capsys):
    import logging.config

    try:
        logging.config.dictConfig(uvicorn_log_config("INFO"))
        capsys.readouterr()
        logging.getLogger("uvicorn.error").info("Started parent process [%d]", 42, extra={"color_message": "x"})
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /?token=t HTTP/1.1" 200')
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        configure_logging()
    assert lines == [{**lines[0], "logger": "uvicorn.error", "event": "Started parent process [42]", "level": "info"}]
    assert "color_message" not in lines[0]


def test_route_template_falls_back_to_the_documented_paths(tmp_path):
    app = make_app(tmp_path)
    scope = {"type": "http", "method": "GET", "path": "/v1/items/p1/i%2F9", "root_path": "", "headers": [], "app": app,
             "query_string": b""}
    assert route_template(scope) == "/v1/items/{publisher}/{item_id}"
    assert route_template({**scope, "path": "/v1/items/p1"}) == "unmatched"


@pytest.mark.slow
def test_multiprocess_metrics_sum_every_worker(tmp_path):
    """Two uvicorn workers and PROMETHEUS_MULTIPROC_DIR: /metrics (any worker) counts every request."""
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    env = server_env(tmp_path / "data", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    key = create_key(data_dir=tmp_path / "data")
    n = 30
    with live_server(env, workers=2, log_path=tmp_path / "server.log") as (base, _):
        with httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {key}"}) as c:
            with ThreadPoolExecutor(6) as pool:
                codes = list(pool.map(lambda i: c.post("/v1/moderate", json={**ARTICLE, "id": f"mp-{i}"}).status_code, range(n)))
            assert codes == [200] * n
            texts = [c.get("/metrics").text for _ in range(6)]
    pids = {s.labels["pid"] for t in texts for f in text_string_to_metric_families(t) for s in f.samples if s.name == "modlabel_build_info"}
    assert len(list(metrics_dir.glob("*.db"))) >= 2, "each worker writes its own samples"
    for text in texts:  # whichever worker answered
        assert value(text, "modlabel_decisions_total", publisher="example-news", decision="publish_with_disclaimers") == n
        assert value(text, "modlabel_http_request_duration_seconds_count", method="POST", route="/v1/moderate", status="200") == n
    assert pids  # informative: which workers answered the scrapes
