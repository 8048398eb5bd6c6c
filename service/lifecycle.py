"""The app's lifespan: storage (migrations, callback sender), then the first admin key and the override sweeper.

    start: storage.lifespan -> bootstrap admin key (empty api_keys only) -> sweeper task
           -> SIGTERM drain (service.drain: a retiring worker answers what it accepted)
    stop:  sweeper stops -> storage.lifespan ends (sender stops, engine disposed)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from service import drain
from service.auth import announce_bootstrap_key, bootstrap_admin_key
from service.storage import lifespan as storage_lifespan

log = logging.getLogger("modlabel")


def sweep_overrides(services) -> int:
    """Lift every override past its ``expires_at`` (the items get their automated result back)."""
    from service.overrides import expire_due

    with services.storage.session() as session:
        return expire_due(session, moderator=services.moderator, ps=services.moderator.policy_set)


async def _sweeper(services, stop: asyncio.Event) -> None:
    every = services.settings.override_sweep_seconds
    while not stop.is_set():
        try:
            await anyio.to_thread.run_sync(sweep_overrides, services)
        except Exception:  # noqa: BLE001 (the loop must outlive a database outage)
            log.exception("override sweep failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except asyncio.TimeoutError:
            pass


def _bootstrap(services) -> None:
    try:
        key = bootstrap_admin_key(services.storage)
    except Exception as exc:  # noqa: BLE001 (an unmigrated server database: say what to do, keep serving)
        log.warning("could not check for API keys (%s: %s); run `modlabel db upgrade`, then "
                    "`modlabel keys create --role admin`", type(exc).__name__, exc)
        return
    if key is not None:
        announce_bootstrap_key(key)


@asynccontextmanager
async def lifespan(app) -> AsyncIterator[None]:
    async with storage_lifespan(app):
        services = app.state.services
        if services.settings.bootstrap_admin:
            await anyio.to_thread.run_sync(_bootstrap, services)
        stop = asyncio.Event()
        sweeper = None
        if services.settings.override_sweep_seconds > 0:
            sweeper = asyncio.create_task(_sweeper(services, stop))
        drain.install(services.settings.shutdown_drain_seconds)
        try:
            yield
        finally:
            stop.set()
            if sweeper is not None:
                await sweeper
