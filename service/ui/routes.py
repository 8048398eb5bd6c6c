"""Pages of the moderator UI: sign-in, the review queue, an item and its actions.

Every page is rendered server-side with autoescaping; every POST carries the
session's CSRF token; actions call the same services as the API
(``service.overrides``, ``service.review``) and end in a redirect with a flash message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import anyio
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from classifiers.document import Document, build_document
from labels.taxonomy import Decision, LabelName
from service import overrides as override_service
from service import review
from service.auth import KeyInfo
from service.db import items as item_queries
from service.db.contents import get_content
from service.errors import ApiError
from service.routes.items import item_view
from service.ui import UI_DIR
from service.ui.highlight import evidence_by_field, segments
from service.ui.session import COOKIE, Sessions

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=str(UI_DIR / "templates"))
templates.env.filters["q"] = lambda value: quote(str(value), safe="")

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
UI_ROLES = ("moderator", "admin")
LABEL_NAMES = [name.value for name in LabelName]


def _sessions(request: Request) -> Sessions:
    state = request.app.state
    if getattr(state, "ui_sessions", None) is None:
        state.ui_sessions = Sessions(state.services.settings)
    return state.ui_sessions


async def _current(request: Request) -> tuple[dict, KeyInfo | None]:
    """The session and its moderator key (None when signed out, revoked or not a moderator)."""
    session = _sessions(request).load(request.cookies.get(COOKIE))
    key = None
    if isinstance(session.get("kid"), str):
        key = await anyio.to_thread.run_sync(request.app.state.services.keys.by_id, session["kid"])
        if key is None or key.role not in UI_ROLES:
            session.pop("kid", None)
            key = None
    return session, key


def _finish(request: Request, response: Response, session: dict) -> Response:
    _sessions(request).store(response, session, secure=request.url.scheme == "https")
    return response


def _render(request: Request, name: str, session: dict, key: KeyInfo | None, context: dict[str, Any]) -> Response:
    flash = session.pop("flash", None)
    response = templates.TemplateResponse(request, name, {**context, "csrf": session["csrf"], "flash": flash, "me": key},
                                          headers=HEADERS)
    return _finish(request, response, session)


def _redirect(request: Request, url: str, session: dict, flash: tuple[str, str] | None = None) -> Response:
    if flash is not None:
        session["flash"] = {"kind": flash[0], "text": flash[1]}
    return _finish(request, RedirectResponse(url, status_code=303, headers=HEADERS), session)


async def _form(request: Request, session: dict):
    form = await request.form()
    if not Sessions.csrf_ok(session, form.get("csrf")):  # type: ignore[arg-type]
        raise ApiError(403, "csrf_failed", "this form is stale or was not sent by the moderator page; reload the page", "csrf")
    return form


def item_url(publisher: str, item_id: str) -> str:
    return f"/ui/items/{quote(publisher, safe='')}/{quote(item_id, safe='')}"


# ---------------------------------------------------------------- sign-in


@router.get("")
async def home(request: Request) -> Response:
    return RedirectResponse("/ui/queue", status_code=303, headers=HEADERS)


@router.get("/login")
async def login_page(request: Request) -> Response:
    session, key = await _current(request)
    return _render(request, "login.html", session, key, {})


@router.post("/login")
async def login(request: Request) -> Response:
    session, _ = await _current(request)
    form = await _form(request, session)
    token = str(form.get("key") or "").strip()
    try:
        key = await anyio.to_thread.run_sync(request.app.state.services.keys.authenticate, token)
    except ApiError as exc:
        return _redirect(request, "/ui/login", session, ("error", f"Sign-in failed: {exc.message}."))
    if key.role not in UI_ROLES:
        return _redirect(request, "/ui/login", session, ("error", f"A {key.role} key cannot sign in here; use a moderator key."))
    fresh = {"kid": key.id, "csrf": Sessions.new_csrf()}
    return _redirect(request, "/ui/queue", fresh, ("info", f"Signed in with key {key.id}."))


@router.post("/logout")
async def logout(request: Request) -> Response:
    session, _ = await _current(request)
    await _form(request, session)
    return _redirect(request, "/ui/login", {"csrf": Sessions.new_csrf()}, ("info", "Signed out."))


# ---------------------------------------------------------------- queue


@router.get("/queue")
async def queue_page(request: Request, publisher: str | None = None, label: str | None = None,
                     cursor: str | None = None) -> Response:
    session, key = await _current(request)
    if key is None:
        return _redirect(request, "/ui/login", session)
    scope = key.publisher or (publisher or None)
    label = label if label in LABEL_NAMES else None
    storage = request.app.state.services.storage

    def read():
        with storage.session() as s:
            page = review.queue(s, publisher=scope, label=label, limit=50, cursor=cursor or None)
            return page, ([] if cursor else review.quarantined_entries(s, publisher=scope))

    try:
        (entries, next_cursor), quarantined = await anyio.to_thread.run_sync(read)
    except ApiError as exc:
        return _redirect(request, "/ui/queue", session, ("error", exc.message))
    next_url = None
    if next_cursor:
        params = {k: v for k, v in {"publisher": publisher, "label": label, "cursor": next_cursor}.items() if v}
        next_url = "/ui/queue?" + urlencode(params)
    return _render(request, "queue.html", session, key, {
        "entries": entries, "next_url": next_url, "publisher": scope, "label": label, "label_names": LABEL_NAMES,
        "item_url": item_url, "quarantined": quarantined})


# ---------------------------------------------------------------- one item


def _item_page(services, publisher: str, item_id: str) -> dict | None:
    view = item_view(services.storage, publisher=publisher, item_id=item_id, limit=20)
    if view is None:
        return None
    with services.storage.session() as s:
        item = item_queries.get_item(s, publisher=publisher, item_id=item_id)
        content = get_content(s, item_pk=item.id, content_hash=item.content_hash) or {}  # type: ignore[union-attr,arg-type]
    labels = view["current"]["labels"] if view["current"] else []
    doc = build_document(content) if content else Document()
    spans = evidence_by_field(labels)
    fields = {f.name: segments(f.text, spans.get(f.name, [])) for f in doc.fields}
    media = []
    for ref in doc.media:
        prefix = f"media[{ref.index}]." if ref.origin == "media" else f"html_media[{ref.index}]."
        raw = (content.get("media") or [])[ref.index] if ref.origin == "media" else {}
        media.append({"id": ref.id, "origin": ref.origin, "type": raw.get("type") or ("embedded" if ref.origin == "html" else "image"),
                      "fields": [(f.kind, fields[f.name]) for f in doc.fields if f.name.startswith(prefix)]})
    unplaced = [(lab["name"], ev) for lab in labels for ev in lab.get("evidence") or [] if ev["field"] not in fields]
    ps = services.moderator.policy_set
    policy = ps.policy_for(ps.publisher(publisher))
    return {"view": view, "has_content": bool(content), "title": fields.get("title", []), "body": fields.get("body", []),
            "tags": fields.get("tags", []), "media": media, "labels": labels, "unplaced": unplaced,
            "disclaimers": view["current"]["disclaimers"] if view["current"] else [],
            "reason_codes": list(policy.reason_codes), "label_names": LABEL_NAMES, "url": content.get("url"),
            "pending": [o for o in view["overrides"] if o["status"] == "pending"]}


@router.get("/items/{publisher}/{item_id}")
async def item_page(request: Request, publisher: str, item_id: str) -> Response:
    session, key = await _current(request)
    if key is None:
        return _redirect(request, "/ui/login", session)
    if not key.may_act_for(publisher):
        return _redirect(request, "/ui/queue", session, ("error", f"Your key belongs to publisher {key.publisher}."))
    services = request.app.state.services
    page = await anyio.to_thread.run_sync(lambda: _item_page(services, publisher, item_id))
    if page is None:
        return _redirect(request, "/ui/queue", session, ("error", f"No item {item_id} of {publisher}."))
    return _render(request, "item.html", session, key, {**page, "publisher": publisher, "item_id": item_id,
                                                        "base": item_url(publisher, item_id)})


def _override_request(form, current_labels: list[str]) -> override_service.OverrideRequest:
    action = form.get("action")
    remove = [n for n in form.getlist("remove") if n in LABEL_NAMES]
    labels_set = []
    name = form.get("set_name") or ""
    if name in LABEL_NAMES:
        spec: dict[str, Any] = {"name": name}
        if name == LabelName.GRAPHIC_VIOLENCE and form.get("set_severity") in ("graphic", "extreme"):
            spec["severity"] = form.get("set_severity")
        actors = [a.strip() for a in str(form.get("set_actors") or "").split(",") if a.strip()]
        if name == LabelName.EXTREMIST_SOURCE and actors:
            spec["actors"] = actors[:20]
        labels_set.append(spec)
    if action == "approve":
        remaining = (set(current_labels) - set(remove)) | {s["name"] for s in labels_set}
        decision = Decision.PUBLISH_WITH_DISCLAIMERS.value if remaining else Decision.PUBLISH.value
    elif action == "hold":
        decision = Decision.HOLD_FOR_REVIEW.value
    elif action == "block":
        decision = Decision.BLOCK.value
    elif action == "labels":
        decision = None
    else:
        raise ApiError(422, "validation_error", "choose an action: approve, change labels, hold or block", "action")
    version = str(form.get("expected_version") or "")
    note = str(form.get("note") or "").strip()[:2000] or None
    return override_service.OverrideRequest(reason=str(form.get("reason") or ""), decision=decision, labels_set=labels_set,
                                            labels_remove=remove, note=note,
                                            expected_version=int(version) if version.isdigit() else None)


async def _act(request: Request, publisher: str, item_id: str, run, done: str) -> Response:
    """Run one moderator action on an item; flash its outcome and go back to the item."""
    session, key = await _current(request)
    if key is None:
        return _redirect(request, "/ui/login", session)
    form = await _form(request, session)
    back = item_url(publisher, item_id)
    if not key.may_act_for(publisher):
        return _redirect(request, "/ui/queue", session, ("error", f"Your key belongs to publisher {key.publisher}."))
    services = request.app.state.services

    def work():
        with services.storage.session() as s:
            return run(s, services, key, form)

    try:
        outcome = await anyio.to_thread.run_sync(work)
    except ApiError as exc:
        return _redirect(request, back, session, ("error", exc.message))
    return _redirect(request, back, session, ("info", done.format(outcome=outcome)))


@router.post("/items/{publisher}/{item_id}/action")
async def item_action(request: Request, publisher: str, item_id: str) -> Response:
    def run(s, services, key, form):
        item = item_queries.get_item(s, publisher=publisher, item_id=item_id)
        current = item_queries.current_result(s, item) if item is not None else None
        req = _override_request(form, [lab["name"] for lab in (current.labels if current else [])])
        row = override_service.create(s, moderator=services.moderator, ps=services.moderator.policy_set, key=key,
                                      publisher=publisher, item_id=item_id, req=req)
        if row.status == override_service.PENDING:
            return f"override {row.id} waits for a second moderator's approval (it lifts extremist_source)"
        return f"override {row.id} applied: the decision is now {row.decision}"

    return await _act(request, publisher, item_id, run, "Done: {outcome}.")


@router.post("/items/{publisher}/{item_id}/claim")
async def item_claim(request: Request, publisher: str, item_id: str) -> Response:
    def run(s, services, key, form):
        row = review.claim(s, key=key, publisher=publisher, item_id=item_id, seconds=services.settings.review_claim_seconds)
        return row.expires_at.strftime("%H:%M:%S UTC")

    return await _act(request, publisher, item_id, run, "You hold this item until {outcome}.")


@router.post("/items/{publisher}/{item_id}/release")
async def item_release(request: Request, publisher: str, item_id: str) -> Response:
    def run(s, services, key, form):
        return "released" if review.release(s, key=key, publisher=publisher, item_id=item_id) else "not claimed"

    return await _act(request, publisher, item_id, run, "Item {outcome}.")


@router.post("/items/{publisher}/{item_id}/overrides/{override_id}/approve")
async def override_approve(request: Request, publisher: str, item_id: str, override_id: int) -> Response:
    def run(s, services, key, form):
        row = override_service.approve(s, moderator=services.moderator, ps=services.moderator.policy_set, key=key,
                                       publisher=publisher, item_id=item_id, override_id=override_id)
        return row.decision

    return await _act(request, publisher, item_id, run, "Approved: the decision is now {outcome}.")


@router.post("/items/{publisher}/{item_id}/overrides/{override_id}/withdraw")
async def override_withdraw(request: Request, publisher: str, item_id: str, override_id: int) -> Response:
    def run(s, services, key, form):
        row = override_service.withdraw(s, moderator=services.moderator, ps=services.moderator.policy_set, key=key,
                                        publisher=publisher, item_id=item_id, override_id=override_id)
        return row.id

    return await _act(request, publisher, item_id, run, "Override {outcome} withdrawn; the automated result applies again.")
