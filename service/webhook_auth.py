"""Standard Webhooks verification for incoming deliveries (``webhook-id``, ``-timestamp``, ``-signature``).

The timestamp must lie within ``settings.webhook_tolerance_seconds`` of now; the
signature must match one of the publisher's active secrets (several are active
during a rotation). Expected signatures are computed with the ``standardwebhooks``
library and compared in constant time. Every failure is a 401 ``ApiError``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from standardwebhooks import Webhook

from service.errors import ApiError

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: int
    signatures: tuple[str, ...]


def _unauthorized(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(401, code, message, field, headers={"WWW-Authenticate": 'StandardWebhooks realm="modlabel"'})


def read_headers(headers, *, tolerance_seconds: int, now: float | None = None) -> SignedHeaders:
    """The three headers, present and with a fresh timestamp, or a 401."""
    missing = [h for h in HEADERS if not headers.get(h)]
    if missing:
        raise _unauthorized("missing_signature", f"missing Standard Webhooks header(s): {', '.join(missing)}", missing[0])
    webhook_id = headers["webhook-id"]
    if len(webhook_id) > 256:
        raise _unauthorized("bad_signature", "webhook-id is longer than 256 characters", "webhook-id")
    try:
        timestamp = int(headers["webhook-timestamp"])
    except ValueError:
        raise _unauthorized("stale_timestamp", "webhook-timestamp must be integer seconds since the epoch", "webhook-timestamp") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        raise _unauthorized("stale_timestamp", f"webhook-timestamp is more than {tolerance_seconds} s from the server's clock",
                            "webhook-timestamp")
    return SignedHeaders(webhook_id, timestamp, tuple(headers["webhook-signature"].split()))


def _decoded_v1(signatures: tuple[str, ...]) -> list[bytes]:
    out = []
    for entry in signatures:
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            out.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return out


def verify(body: bytes, signed: SignedHeaders, secrets: list[str]) -> int:
    """Index of the secret that signed ``body``; 401 ``bad_signature`` when none did."""
    if not secrets:
        raise _unauthorized("bad_signature", "no active webhook secret for this publisher "
                            "(create one with `modlabel webhooks add-secret --publisher P`)", "publisher")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _unauthorized("bad_signature", "body is not UTF-8, so it cannot carry a valid signature") from None
    given = _decoded_v1(signed.signatures)
    if not given:
        raise _unauthorized("bad_signature", "webhook-signature carries no v1 signature", "webhook-signature")
    at = datetime.fromtimestamp(signed.timestamp, tz=timezone.utc)
    for index, secret in enumerate(secrets):
        expected = base64.b64decode(Webhook(secret).sign(signed.webhook_id, at, text).partition(",")[2])
        if any(hmac.compare_digest(expected, sig) for sig in given):
            return index
    raise _unauthorized("bad_signature", "no signature matches an active secret of this publisher", "webhook-signature")
