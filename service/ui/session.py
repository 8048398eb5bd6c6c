"""The moderator page's session: a signed, HttpOnly cookie holding the key id, a CSRF token and one flash message.

The cookie never holds the key itself. Every request re-reads the key by id, so a
revoked key signs its sessions out (within ``key_cache_seconds``). The signing
secret is ``settings.session_secret``, else a random file in the data directory.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from service.config import Settings

COOKIE = "modlabel_ui"
_SALT = "modlabel-ui-session"


def secret_for(settings: Settings) -> str:
    """The configured secret, else one generated once into ``data_dir/ui_session_secret`` (mode 600)."""
    if settings.session_secret:
        return settings.session_secret
    path = Path(settings.data_dir) / "ui_session_secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker wrote it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


class Sessions:
    """Reads and writes the session cookie."""

    def __init__(self, settings: Settings):
        self.serializer = URLSafeTimedSerializer(secret_for(settings), salt=_SALT)
        self.max_age = int(settings.session_hours * 3600)

    def load(self, cookie: str | None) -> dict:
        if cookie:
            try:
                data = self.serializer.loads(cookie, max_age=self.max_age)
                if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                    return data
            except BadSignature:
                pass
        return {"csrf": secrets.token_urlsafe(24)}

    def store(self, response, data: dict, *, secure: bool) -> None:
        response.set_cookie(COOKIE, self.serializer.dumps(data), max_age=self.max_age, httponly=True, samesite="lax",
                            secure=secure, path="/ui")

    @staticmethod
    def clear(response) -> None:
        response.delete_cookie(COOKIE, path="/ui")

    @staticmethod
    def csrf_ok(session: dict, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(session.get("csrf", "").encode(), str(token).encode())

    @staticmethod
    def new_csrf() -> str:
        return secrets.token_urlsafe(24)
