"""API keys: roles, publisher scope, hashing, lookup and the first admin key.

A key reads ``mlk_<id>_<secret>``: the id finds the row, the secret (256 random
bits) makes it unguessable. Only ``sha256(key)`` is stored, and it is compared
with ``hmac.compare_digest``. Roles:

- ``cms``: moderates and reads its publisher's items;
- ``moderator``: also overrides, works the review queue and reads the audit trail of its publisher;
- ``admin``: everything; with no publisher it is global.

``KeyStore.authenticate`` caches a looked-up key for ``key_cache_seconds`` so a
request costs no database round trip; a revocation made in another process is
honoured after at most that long. While the database is unavailable a key read
before keeps working (its last read row is trusted); an unknown key gets a 503.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys
import threading
import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from service.db import audit
from service.db.models import ApiKey, utcnow
from service.errors import ApiError
from service.outage import STORAGE_ERRORS, degraded

log = logging.getLogger("modlabel.auth")

ROLES = ("cms", "moderator", "admin")
PREFIX = "mlk"
BOOTSTRAP_ID = "bootstrap"


@dataclass(frozen=True)
class KeyInfo:
    """Who is calling: the key's id, role and publisher (None: an admin for every publisher)."""

    id: str
    role: str
    publisher: str | None
    rate_limit_per_minute: int | None = None  # the key's own budget (0 = none); None = the setting's

    def may_act_for(self, publisher: str) -> bool:
        return self.publisher is None or self.publisher == publisher


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_key_id(key: str) -> str | None:
    """The id part of ``mlk_<id>_<secret>``, or None when the key is not shaped like one."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2] or len(key) > 200:
        return None
    return parts[1]


def new_key(key_id: str | None = None) -> tuple[str, str]:
    """(id, key) for a fresh key."""
    key_id = key_id or secrets.token_hex(6)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def create_key(session: Session, *, role: str, publisher: str | None = None, actor: str = "cli",
               key_id: str | None = None, rate_limit_per_minute: int | None = None) -> tuple[ApiKey, str]:
    """Store a new key (hashed) and audit it; (row, the key, shown once)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if role != "admin" and not publisher:
        raise ValueError(f"a {role} key needs a publisher (only admin keys may be global)")
    _check_rate_limit(rate_limit_per_minute)
    key_id, key = new_key(key_id)
    row = ApiKey(id=key_id, key_hash=hash_key(key), role=role, publisher=publisher or None,
                 rate_limit_per_minute=rate_limit_per_minute)
    session.add(row)
    session.flush()
    after = {"key_id": row.id, "role": row.role, "publisher": row.publisher}
    if rate_limit_per_minute is not None:
        after["rate_limit_per_minute"] = rate_limit_per_minute
    audit.record(session, action=audit.KEY_CREATE, actor=actor, publisher=row.publisher, after=after)
    return row, key


def _check_rate_limit(value: int | None) -> None:
    if value is not None and not 0 <= value <= 10**9:
        raise ValueError(f"a rate limit is 0 (none) to 1000000000 requests a minute, got {value}")


def set_rate_limit(session: Session, *, key_id: str, rate_limit_per_minute: int | None, actor: str = "cli") -> bool:
    """Give an active key its own budget (requests a minute, 0 = none) or, with None, the setting's; audited."""
    _check_rate_limit(rate_limit_per_minute)
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    before = row.rate_limit_per_minute
    row.rate_limit_per_minute = rate_limit_per_minute
    session.add(row)
    audit.record(session, action=audit.KEY_RATE_LIMIT, actor=actor, publisher=row.publisher,
                 before={"key_id": row.id, "rate_limit_per_minute": before},
                 after={"key_id": row.id, "rate_limit_per_minute": rate_limit_per_minute})
    return True


def list_keys(session: Session, *, publisher: str | None = None, include_revoked: bool = False) -> list[ApiKey]:
    query = select(ApiKey)
    if publisher is not None:
        query = query.where(ApiKey.publisher == publisher)
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return list(session.exec(query.order_by(col(ApiKey.created_at), col(ApiKey.id))).all())


def revoke_key(session: Session, *, key_id: str, actor: str = "cli") -> bool:
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    session.add(row)
    audit.record(session, action=audit.KEY_REVOKE, actor=actor, publisher=row.publisher,
                 before={"key_id": row.id, "role": row.role, "publisher": row.publisher}, after={"revoked": True})
    return True


def bootstrap_admin_key(storage) -> str | None:
    """With no key at all, create a global admin key and return it (once, in one process of several)."""
    try:
        with storage.session() as session:
            if session.exec(select(func.count()).select_from(ApiKey)).one() > 0:
                return None
            _, key = create_key(session, role="admin", actor="bootstrap", key_id=BOOTSTRAP_ID)
        return key
    except IntegrityError:
        return None  # another worker created it first


def announce_bootstrap_key(key: str, stream=None) -> None:
    """Print the first admin key once, with instructions, to stderr."""
    stream = stream or sys.stderr
    bar = "=" * 78
    stream.write(
        f"{bar}\nmodlabel: no API key existed, so an admin key was created. It is shown only this once;\n"
        f"store it now (it grants every permission; revoke it with `modlabel keys revoke {BOOTSTRAP_ID}`):\n"
        f"{key}\n{bar}\n")
    stream.flush()
    log.warning("created the first admin API key (id %s) and printed it to stderr", BOOTSTRAP_ID)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, "authorization", headers={"WWW-Authenticate": 'Bearer realm="modlabel"'})


class KeyStore:
    """Authenticates bearer keys against ``api_keys`` with a short cache."""

    def __init__(self, storage, ttl_seconds: float = 5.0):
        self.storage = storage
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def _row(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            with self.storage.session() as session:
                row = session.get(ApiKey, key_id)
                if row is not None:
                    session.expunge(row)
        except STORAGE_ERRORS as exc:
            if hit is None:
                raise  # an unknown key cannot be checked: 503 (service.errors)
            degraded("api_key", exc)  # the database is down: trust what was last read (it cannot be revoked meanwhile)
            return hit[1]
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            if row is not None:
                self._cache[key_id] = (now, row)
        return row

    def is_fresh(self, key: str) -> bool:
        """Whether ``authenticate(key)`` would be answered from the cache (no database access)."""
        key_id = parse_key_id(key)
        if key_id is None:
            return True
        with self._lock:
            hit = self._cache.get(key_id)
        return hit is not None and time.monotonic() - hit[0] < self.ttl

    def forget(self, key_id: str | None = None) -> None:
        with self._lock:
            if key_id is None:
                self._cache.clear()
            else:
                self._cache.pop(key_id, None)

    def authenticate(self, key: str) -> KeyInfo:
        """The caller's KeyInfo, or a 401 ApiError (unknown, malformed or revoked key)."""
        key_id = parse_key_id(key)
        if key_id is None:
            raise unauthorized("the bearer token is not a modlabel API key")
        row = self._row(key_id)
        if row is None or not hmac.compare_digest(row.key_hash.encode(), hash_key(key).encode()):
            raise unauthorized("unknown API key")
        if row.revoked_at is not None:
            raise unauthorized("this API key was revoked")
        return KeyInfo(row.id, row.role, row.publisher, row.rate_limit_per_minute)

    def by_id(self, key_id: str) -> KeyInfo | None:
        """An active key by id (the moderator page's session keeps only the id)."""
        row = self._row(key_id)
        if row is None or row.revoked_at is not None:
            return None
        return KeyInfo(row.id, row.role, row.publisher, row.rate_limit_per_minute)
