"""Rate limits per API key and per webhook publisher: 429 ``rate_limited`` with ``Retry-After``.

Counting is the ``limits`` library's sliding window counter: two one-minute
windows, the previous one weighted by how much of it still lies within the last
60 s. It costs two small counters per key (in memory: a few microseconds; on
Redis: one Lua call) and never keeps one entry per request.

- Every request made with an API key counts against that key (``service.deps.current_key``):
  the key's own ``rate_limit_per_minute`` when it has one (``modlabel keys limit``), else
  ``settings.rate_limit_per_minute``.
- Every signed webhook delivery counts against its publisher once its signature
  checks out (``service.routes.webhooks.handle``), so unsigned junk cannot spend a
  publisher's budget: ``settings.webhook_rate_limit_per_minute``, unset = the same number.
- 0 means no limit. The counters live in this process (``memory://``, the default: with
  N workers a key gets up to N times its budget) or in Redis (``settings.rate_limit_storage``
  = ``redis://host:6379/0``), shared by every worker and replica.
- When Redis fails, requests pass (fail-open) and a warning is logged at most once a
  minute: the limiter protects the service and must not take it down with it.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import anyio
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from prometheus_client import Counter

from service.errors import ApiError

log = logging.getLogger("modlabel.ratelimit")

KEY_SCOPE = "key"
WEBHOOK_SCOPE = "webhook"
REDIS_TIMEOUT_SECONDS = 0.25  # a slow Redis fails open quickly rather than stalling every request
WARN_EVERY_SECONDS = 60.0

class _QuietMemoryStorage(MemoryStorage):
    """``limits``' ``memory://`` store without a new expiry thread per write.

    ``MemoryStorage`` starts a ``threading.Timer`` on each write whose previous timer
    has already fired (10 ms later): under steady traffic that is a thread started per
    request, on the event loop, which waits for the thread to run (about a tenth of a
    worker's time at 100-150 requests a second). Reads already drop expired counters
    (``get``); this store sweeps the rest inline, at most every ``SWEEP_SECONDS``, so
    counters of past windows still go away.
    """

    SWEEP_SECONDS = 10.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces MemoryStorage.__schedule_expiry
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()


def _memory_storage() -> MemoryStorage:
    if hasattr(MemoryStorage, "_MemoryStorage__schedule_expiry") and hasattr(MemoryStorage, "_MemoryStorage__expire_events"):
        return _QuietMemoryStorage("memory://")
    return storage_from_string("memory://")  # another ``limits`` release: its own store as it is


REFUSED = Counter("modlabel_rate_limited", "Requests refused with 429 by the rate limiter.", ["scope"])


class RateLimiter:
    """Budgets per minute for API keys and webhook publishers over one counter store."""

    def __init__(self, *, per_minute: int, webhook_per_minute: int | None = None, storage: str = "memory://"):
        self.per_minute = per_minute
        self.webhook_per_minute = per_minute if webhook_per_minute is None else webhook_per_minute
        self.storage_uri = storage
        # In-process counters cost microseconds: checked on the event loop. A network store is checked in a thread.
        self.inline = storage.split("://", 1)[0] == "memory"
        options: dict = {} if self.inline else {
            "key_prefix": "modlabel", "socket_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}
        # Errors of a network store become StorageError (fail-open below); the memory store has none to wrap.
        self.storage = (_memory_storage() if self.inline
                        else storage_from_string(storage, wrap_exceptions=not self.inline, **options))
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self._items: dict[int, RateLimitItem] = {}
        self._warned_at = -math.inf
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> RateLimiter:
        return cls(per_minute=settings.rate_limit_per_minute, webhook_per_minute=settings.webhook_rate_limit_per_minute,
                   storage=settings.rate_limit_storage)

    def _item(self, amount: int) -> RateLimitItem:
        item = self._items.get(amount)
        if item is None:
            item = self._items.setdefault(amount, RateLimitItemPerMinute(amount))
        return item

    def check(self, scope: str, ident: str, amount: int, *, field: str, who: str) -> None:
        """Count one request of ``ident``; a 429 ``ApiError`` when it is over ``amount`` a minute (0: no limit)."""
        if amount <= 0:
            return
        item = self._item(amount)
        try:
            if self.strategy.hit(item, scope, ident):
                return
            retry = self.retry_after(item, scope, ident)
        except StorageError as exc:
            self._store_failed(exc)
            return
        REFUSED.labels(scope).inc()
        raise ApiError(429, "rate_limited", f"{who} is over its limit of {amount} requests a minute; "
                       f"retry in {retry} s", field, headers={"Retry-After": str(retry)})

    def retry_after(self, item: RateLimitItem, scope: str, ident: str) -> int:
        """Whole seconds until one more request fits (1 to 60)."""
        reset = self.strategy.get_window_stats(item, scope, ident).reset_time
        return min(60, max(1, math.ceil(round(reset - time.time(), 3))))

    def check_key(self, key) -> None:
        """Count one request of an API key (a ``service.auth.KeyInfo``)."""
        own = key.rate_limit_per_minute
        self.check(KEY_SCOPE, key.id, self.per_minute if own is None else own, field="authorization",
                   who="this API key")

    async def check_key_async(self, key) -> None:
        if self.inline:
            self.check_key(key)
        else:
            await anyio.to_thread.run_sync(self.check_key, key)

    def check_publisher(self, publisher: str) -> None:
        """Count one signed webhook delivery of ``publisher`` (blocking: call it from a worker thread)."""
        self.check(WEBHOOK_SCOPE, publisher, self.webhook_per_minute, field="publisher",
                   who=f"publisher {publisher!r}'s webhook")

    def _store_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._warned_at < WARN_EVERY_SECONDS:
                return
            self._warned_at = now
        log.warning("rate-limit store %s failed; requests pass unlimited until it answers: %s",
                    self.storage_uri.split("@")[-1], exc)  # never the URL's password

    def reset(self) -> None:
        """Forget every counter of this store (tests)."""
        self.storage.reset()
