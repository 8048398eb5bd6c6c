"""HTTP client for the modlabel service (httpx): ``Client`` (sync) and ``AsyncClient``.

Results are frozen dataclasses that mirror the contract's JSON (extra keys the
service adds later are kept in ``raw``)::

    with Client("http://127.0.0.1:8000", api_key="...") as c:
        result = c.moderate({"id": "cms-1", "publisher": "example-news", "title": "...", "body": "..."})
        result.decision, [lab.name for lab in result.labels]

Every 4xx/5xx answer raises ``ApiError`` (or a subclass) carrying the error body's
``code``, ``message`` and ``field``; a failed connection raises ``TransportError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx
from standardwebhooks import Webhook

from modlabel._types import (ApiError, AuthError, Disclaimer, Evidence, Health, ItemRecord, Label, ModerationResult,
                             ModlabelError, NotFound, PrePublishAnswer, StoredResult, TransportError)

__all__ = ["ApiError", "AsyncClient", "AuthError", "Client", "Disclaimer", "Evidence", "Health", "ItemRecord", "Label",
           "ModerationResult", "ModlabelError", "NotFound", "PrePublishAnswer", "StoredResult", "TransportError",
           "sign_webhook"]

USER_AGENT = "modlabel-client/0.1"
PRE_PUBLISH = "/v1/webhooks/pre-publish"


# -- webhooks ------------------------------------------------------------------------------------

def sign_webhook(secret: str, msg_id: str, timestamp: int | float | datetime, body: bytes | str) -> dict[str, str]:
    """Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) for ``body``.

    ``secret`` is the ``whsec_...`` string ``modlabel webhooks add-secret`` printed;
    sign the exact bytes you send.
    """
    if not isinstance(timestamp, datetime):
        timestamp = datetime.fromtimestamp(int(timestamp), timezone.utc)
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    signature = Webhook(secret).sign(msg_id, timestamp, text)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp.timestamp())), "webhook-signature": signature}


# -- shared request/response handling -------------------------------------------------------------

def _headers(api_key: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {"user-agent": USER_AGENT, "accept": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    headers.update(extra or {})
    return headers


def _item_path(publisher: str, item_id: str) -> str:
    return f"/v1/items/{quote(publisher, safe='')}/{quote(item_id, safe='')}"


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        err = response.json().get("error") or {}
    except ValueError:
        err = {}
    cls = NotFound if response.status_code == 404 else AuthError if response.status_code in (401, 403) else ApiError
    raise cls(response.status_code, err.get("code", "http_error"), err.get("message", response.reason_phrase or ""),
              err.get("field"), response.headers.get("x-request-id"))


def _json(response: httpx.Response) -> Any:
    _raise_for(response)
    return response.json()


def _health(response: httpx.Response) -> Health:
    if response.status_code == 503:
        body = response.json()
        return Health(False, body.get("status", "unavailable"), (body.get("error") or {}).get("message"))
    return Health(True, _json(response).get("status", "ok"))


def _signed_body(body: bytes | Mapping, secret: str, msg_id: str | None) -> tuple[bytes, dict[str, str]]:
    import json
    import secrets

    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    headers = sign_webhook(secret, msg_id or f"msg_{secrets.token_hex(12)}", datetime.now(timezone.utc), raw)
    headers["content-type"] = "application/json"
    return raw, headers


# -- clients -------------------------------------------------------------------------------------

class Client:
    """Synchronous client. ``transport`` or ``http`` (an ``httpx.Client``) replace the network, e.g. in tests."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None, timeout: float = 10.0,
                 headers: Mapping[str, str] | None = None, transport: httpx.BaseTransport | None = None,
                 http: httpx.Client | None = None):
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self._owns = http is None
        self._headers = _headers(api_key, headers)

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            return self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {path}: {exc}") from exc

    def moderate(self, item: Mapping) -> ModerationResult:
        """Label one item (stored as the item's current decision when it has an ``id`` and the key a publisher)."""
        response = self._send("POST", "/v1/moderate", json=dict(item))
        return ModerationResult.from_dict(_json(response), response.headers.get("x-request-id"))

    def get_item(self, publisher: str, item_id: str, *, limit: int | None = None) -> ItemRecord:
        """An item's current decision and history; ``NotFound`` when nothing is stored."""
        params = {"limit": limit} if limit else None
        return ItemRecord.from_dict(_json(self._send("GET", _item_path(publisher, item_id), params=params)))

    def pre_publish(self, body: bytes | Mapping, *, secret: str, publisher: str | None = None,
                    msg_id: str | None = None) -> PrePublishAnswer:
        """Send a signed pre-publish webhook (contract item, WordPress or Ghost payload)."""
        raw, headers = _signed_body(body, secret, msg_id)
        params = {"publisher": publisher} if publisher else None
        return PrePublishAnswer.from_dict(_json(self._send("POST", PRE_PUBLISH, content=raw, headers=headers, params=params)))

    def health(self) -> Health:
        """``GET /healthz``: is the process alive."""
        return _health(self._send("GET", "/healthz"))

    def ready(self) -> Health:
        """``GET /readyz``: database reachable and models loaded (``ok`` False with the reason on 503)."""
        return _health(self._send("GET", "/readyz"))

    def close(self) -> None:
        if self._owns:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncClient:
    """Asynchronous client; ``transport=httpx.ASGITransport(app)`` talks to an app in-process."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None, timeout: float = 10.0,
                 headers: Mapping[str, str] | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 http: httpx.AsyncClient | None = None):
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self._owns = http is None
        self._headers = _headers(api_key, headers)

    async def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            return await self._http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise TransportError(f"{method} {path}: {exc}") from exc

    async def moderate(self, item: Mapping) -> ModerationResult:
        """Label one item; see ``Client.moderate``."""
        response = await self._send("POST", "/v1/moderate", json=dict(item))
        return ModerationResult.from_dict(_json(response), response.headers.get("x-request-id"))

    async def get_item(self, publisher: str, item_id: str, *, limit: int | None = None) -> ItemRecord:
        """An item's current decision and history; ``NotFound`` when nothing is stored."""
        params = {"limit": limit} if limit else None
        return ItemRecord.from_dict(_json(await self._send("GET", _item_path(publisher, item_id), params=params)))

    async def pre_publish(self, body: bytes | Mapping, *, secret: str, publisher: str | None = None,
                          msg_id: str | None = None) -> PrePublishAnswer:
        """Send a signed pre-publish webhook; see ``Client.pre_publish``."""
        raw, headers = _signed_body(body, secret, msg_id)
        params = {"publisher": publisher} if publisher else None
        return PrePublishAnswer.from_dict(_json(await self._send("POST", PRE_PUBLISH, content=raw, headers=headers, params=params)))

    async def health(self) -> Health:
        """``GET /healthz``."""
        return _health(await self._send("GET", "/healthz"))

    async def ready(self) -> Health:
        """``GET /readyz``."""
        return _health(await self._send("GET", "/readyz"))

    async def aclose(self) -> None:
        if self._owns:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
