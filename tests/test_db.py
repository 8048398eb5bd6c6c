"""Storage on SQLite and PostgreSQL: migrations, items and history, transactions, append-only audit."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel, func, select

from service.db import AuditEvent, Item, ModerationResultRow, OutboxMessage, head_revision
from service.db import items as q
from service.db.migrate import current_revision, downgrade, upgrade
from service.storage import Storage, record_decision_change

TABLES = {"items", "moderation_results", "webhook_deliveries", "webhook_secrets", "overrides", "audit_events",
          "api_keys", "outbox", "alembic_version"}


def result(decision="publish", content_hash="h1", labels=()):
    return {"item_id": "a1", "content_hash": content_hash, "decision": decision, "labels": list(labels),
            "disclaimers": [], "policy_version": "p1", "model_version": "m1"}


def test_migrations_create_every_table_and_match_the_models(storage):
    assert current_revision(storage.engine) == head_revision()
    assert TABLES <= set(inspect(storage.engine).get_table_names())
    with storage.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []


def test_downgrade_and_upgrade_again(storage):
    assert downgrade(storage.engine, "base") is None
    assert "items" not in inspect(storage.engine).get_table_names()
    assert upgrade(storage.engine) == head_revision()


def test_sqlite_runs_in_wal_mode(storage):
    if storage.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_store_result_makes_it_current_and_keeps_history(storage):
    with storage.session() as s:
        first, prev = q.store_result(s, publisher="p", item_id="a1", result=result(), source="api")
        assert prev is None
    with storage.session() as s:
        second, prev = q.store_result(s, publisher="p", item_id="a1", result=result("hold_for_review", "h2"), source="webhook")
        assert prev == "publish"
    with storage.session() as s:
        item = q.get_item(s, publisher="p", item_id="a1")
        assert (item.decision, item.content_hash, item.current_result_id) == ("hold_for_review", "h2", second.id)
        assert [r.id for r in q.history(s, item)] == [second.id, first.id]
        assert q.get_item(s, publisher="other", item_id="a1") is None
        assert s.exec(select(func.count()).select_from(Item)).one() == 1


def test_a_failed_request_leaves_nothing_behind(storage):
    with pytest.raises(RuntimeError):
        with storage.session() as s:
            q.store_result(s, publisher="p", item_id="a1", result=result(), source="api")
            raise RuntimeError("pipeline blew up after the write")
    with storage.session() as s:
        assert s.exec(select(func.count()).select_from(ModerationResultRow)).one() == 0
        assert s.exec(select(func.count()).select_from(Item)).one() == 0


def test_unknown_source_is_refused(storage):
    with pytest.raises(ValueError):
        with storage.session() as s:
            q.store_result(s, publisher="p", item_id="a1", result=result(), source="email")


def test_audit_events_are_append_only(storage):
    with storage.session() as s:
        s.add(AuditEvent(action="override.create", publisher="p", item_id="a1", after={"decision": "publish"}))
    with pytest.raises(Exception, match="append-only"):
        with storage.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET action = 'x'"))
    with pytest.raises(Exception, match="append-only"):
        with storage.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))


def test_concurrent_first_results_for_one_item_make_one_item(storage):
    errors = []

    def worker(n):
        try:
            with storage.session() as s:
                q.store_result(s, publisher="p", item_id="same", result=result(content_hash=f"h{n}"), source="webhook")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with storage.session() as s:
        item = q.get_item(s, publisher="p", item_id="same")
        rows = q.history(s, item)
        assert len(rows) == 8 and item.current_result_id in {r.id for r in rows}


def test_record_decision_change_queues_a_callback_in_the_same_transaction(storage, make_settings):
    store = Storage(make_settings(callback_urls={"p": "http://127.0.0.1:9/hook"}))
    with store.session() as s:
        q.store_result(s, publisher="p", item_id="a1", result=result("publish"), source="webhook")
    with pytest.raises(RuntimeError):
        with store.session() as s:
            record_decision_change(s, "p", "a1", result("hold_for_review"), "override")
            raise RuntimeError("rolled back")
    with store.session() as s:
        assert s.exec(select(func.count()).select_from(OutboxMessage)).one() == 0
        assert q.get_item(s, publisher="p", item_id="a1").decision == "publish"
    with store.session() as s:
        row = record_decision_change(s, "p", "a1", result("hold_for_review"), "override", actor="key_1")
        assert row.source == "override"
    with store.session() as s:
        record_decision_change(s, "p", "a1", result("hold_for_review", "h9"), "rescan")  # same decision: no callback
        msgs = s.exec(select(OutboxMessage)).all()
        assert len(msgs) == 1
        data = msgs[0].payload["data"]
        assert msgs[0].target_url == "http://127.0.0.1:9/hook" and msgs[0].event_type == "item.decision_changed"
        assert (data["previous_decision"], data["decision"], data["allow"], data["actor"]) == ("publish", "hold_for_review", False, "key_1")
        assert [r.source for r in q.history(s, q.get_item(s, publisher="p", item_id="a1"))] == ["rescan", "override", "webhook"]
    store.dispose()


def test_no_callback_url_means_no_outbox_row(storage):
    with storage.session() as s:
        q.store_result(s, publisher="nobody", item_id="a1", result=result("publish"), source="api")
        record_decision_change(s, "nobody", "a1", result("block"), "override")
        assert s.exec(select(func.count()).select_from(OutboxMessage)).one() == 0


def test_readiness_reports_an_unmigrated_database(storage, make_settings):
    downgrade(storage.engine, "base")
    store = Storage(make_settings(migrate_on_start=False))
    problems = store.problems()
    assert problems and "modlabel db upgrade" in problems[0]
    store.migrate()
    assert store.problems() == []
    store.dispose()


def test_embedded_sqlite_migrates_itself_on_first_use(tmp_path):
    from service.config import Settings

    store = Storage(Settings(data_dir=tmp_path / "embedded"))
    assert store.embedded and store.auto_migrate
    assert not (tmp_path / "embedded").exists()  # nothing touched until used
    with store.session() as s:
        assert q.get_item(s, publisher="p", item_id="x") is None
    assert current_revision(store.engine) == head_revision()
    store.dispose()


def test_moderate_stores_results_with_an_id(storage, make_settings, auth):
    from fastapi.testclient import TestClient

    from service.app import create_app

    app = create_app(make_settings())
    with TestClient(app, headers=auth("cms", "example-news")) as client:
        assert client.post("/v1/moderate", json={"title": "No id, not stored"}).status_code == 200
        r = client.post("/v1/moderate", json={"id": "m-1", "publisher": "example-news", "title": "Quiet day at the market"})
        assert r.status_code == 200
        view = client.get("/v1/items/example-news/m-1").json()
        assert view["decision"] == r.json()["decision"] and view["current"]["source"] == "api"
        assert view["current"]["content_hash"] == r.json()["content_hash"] and len(view["history"]) == 1
        missing = client.get("/v1/items/example-news/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "item_not_found"
        assert client.get("/readyz").json()["status"] in ("ready", "unavailable")
    with app.state.services.storage.session() as s:
        assert s.exec(select(func.count()).select_from(ModerationResultRow)).one() == 1


def test_an_override_stays_current_until_the_content_changes(storage):
    with storage.session() as s:
        q.store_result(s, publisher="p", item_id="a1", result=result("hold_for_review"), source="webhook")
        record_decision_change(s, "p", "a1", result("publish"), "override")
        q.store_result(s, publisher="p", item_id="a1", result=result("hold_for_review"), source="webhook")  # same content
        item = q.get_item(s, publisher="p", item_id="a1")
        assert item.decision == "publish" and q.current_result(s, item).source == "override"
        q.store_result(s, publisher="p", item_id="a1", result=result("hold_for_review", "h2"), source="webhook")  # edited
        item = q.get_item(s, publisher="p", item_id="a1")
        assert item.decision == "hold_for_review" and len(q.history(s, item)) == 4
