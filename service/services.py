"""The objects a running service holds: the moderator (stages + policy) and storage."""

from __future__ import annotations

import logging

import anyio
from sqlalchemy.exc import SQLAlchemyError

from classifiers.pipeline import Moderator, Timings
from labels.policy import PolicyError, load_policy_set
from service.config import Settings
from service.observability import observe_moderation, observe_policy_reload
from service.outage import STORAGE_ERRORS, degraded
from service.auth import KeyStore
from service.ratelimit import RateLimiter
from service.banks import HashBanks, hash_entry_ids
from service.storage import Storage

log = logging.getLogger("modlabel")


def load_classifier(settings: Settings):
    """The shipped (or configured) learned stage, or None when disabled or absent."""
    if not settings.classifier_enabled:
        return None
    try:
        from classifiers.learned.stage import ClassifierStage
    except ImportError:
        return None
    return ClassifierStage.load(settings.model_dir)


class Services:
    """Built once at start; routes reach it through ``app.state.services``."""

    def __init__(self, settings: Settings, moderator: Moderator | None = None, storage: Storage | None = None):
        self.settings = settings
        if moderator is None:
            moderator = Moderator(policy_set=load_policy_set(settings.policy_dir), classifier=load_classifier(settings))
        self.moderator = moderator
        self.storage = storage or Storage(settings)
        self.keys = KeyStore(self.storage, settings.key_cache_seconds)  # API keys (service.auth)
        self.rate_limiter = RateLimiter.from_settings(settings)  # per key and per webhook publisher (service.ratelimit)
        self.banks = HashBanks(self.storage, settings)  # hash banks (service.banks): the moderator's hash matcher
        if self.moderator.hash_matcher is None:
            self.moderator.hash_matcher = self.banks

    def reload_policy(self) -> None:
        """Swap in a freshly loaded policy tree (SIGHUP); requests in flight keep the old one."""
        self.moderator.policy_set = load_policy_set(self.settings.policy_dir)

    def reload_policy_logged(self) -> bool:
        """``reload_policy`` for the SIGHUP handler: a broken tree is logged and the old one kept."""
        old = self.moderator.policy_set.version
        try:
            self.reload_policy()
        except PolicyError as exc:
            log.error("policy reload failed; keeping %s", old, extra={"error": str(exc)})
            observe_policy_reload(False)
            return False
        log.info("policy reloaded", extra={"old_policy_version": old, "policy_version": self.moderator.policy_set.version})
        observe_policy_reload(True)
        return True

    def install_sighup(self) -> bool:
        """Reload the policy on SIGHUP; only from the main thread (False elsewhere). Requests are not interrupted."""
        import signal
        import threading

        if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
            return False

        def on_sighup(_signum, _frame) -> None:  # loading runs off the event loop; the swap is one assignment
            threading.Thread(target=self.reload_policy_logged, name="policy-reload", daemon=True).start()

        signal.signal(signal.SIGHUP, on_sighup)
        return True

    async def moderate_and_store(self, item: dict, *, request=None, actor: str | None = None, store: bool = True) -> dict:
        """Moderate; an item with an ``id`` is also stored as its current decision (one transaction).

        A stored item answers under its overrides (``service.overrides.store_automated``):
        a moderator's override of this content wins, and the answer then carries ``override``.
        With the database unavailable the pipeline's result is answered all the same, nothing
        is written, and ``request.state.stored`` is set False (``service.outage``).
        """
        timings = Timings()
        if self.banks.stale:
            await anyio.to_thread.run_sync(self.banks.refresh_quietly)
        result = self.moderator.moderate(item, timings=timings)
        if hash_entry_ids(result):
            result = await anyio.to_thread.run_sync(lambda: self._count_hash_hits(item, result))
        observe_moderation(self.moderator.policy_set, item, result, timings)
        if item.get("id") and store:
            computed = result
            try:
                result = await anyio.to_thread.run_sync(
                    lambda: self._store_api_result(item.get("publisher") or "default", item["id"], computed, item, actor))
            except STORAGE_ERRORS as exc:
                # Storage must not fail moderation: answer the pipeline's result (overrides unseen), not stored.
                degraded("moderate", exc)
                if request is not None:
                    request.state.stored = False
        return result

    def moderate_sync(self, item: dict) -> dict:
        """``moderator.moderate`` for worker threads (the webhook), with the hash-bank steps of ``moderate_and_store``."""
        if self.banks.stale:
            self.banks.refresh_quietly()
        result = self.moderator.moderate(item)
        return self._count_hash_hits(item, result) if hash_entry_ids(result) else result

    def _count_hash_hits(self, item: dict, result: dict) -> dict:
        """Record the bank entries' hits (flood control); moderate again when that quarantined an entry."""
        key = item.get("id") or f"~{result['content_hash']}"
        try:
            quarantined = self.banks.account(result, publisher=item.get("publisher") or "default", item_key=key)
        except SQLAlchemyError:
            log.warning("hash banks: could not record hits (database unavailable?)", exc_info=True)
            return result
        return self.moderator.moderate(item) if quarantined else result

    def _store_api_result(self, publisher: str, item_id: str, result: dict, content: dict | None = None,
                          actor: str | None = None) -> dict:
        from service.overrides import store_automated

        with self.storage.session() as session:
            answer, context = store_automated(session, publisher=publisher, item_id=item_id, result=result,
                                              source="api", content=content, actor=actor)
        return {**answer, "override": context} if context is not None else answer

    async def readiness(self) -> list[str]:
        problems = []
        if self.settings.classifier_enabled and self.moderator.classifier is None:
            problems.append("classifier model not loaded")
        problems.extend(await anyio.to_thread.run_sync(self.storage.problems))
        return problems
