"""Retiring a worker without dropping a connection it has just accepted.

uvicorn answers SIGTERM by closing its listeners and, in the same step, closing
every connection that has no request in progress. A connection the worker
accepted a moment earlier, whose request bytes have not arrived yet, counts as
idle and is closed unanswered: the client sees "server disconnected without a
response". That happens to a few requests in every rolling restart (SIGHUP to a
supervisor of several workers replaces them one by one with SIGTERM).

``install`` wraps the worker's SIGTERM handler: on the signal the worker stops
accepting at once (the shared listening socket stays open in the other
workers, so new connections go there), then waits ``grace`` seconds for the
connections it already holds to send their requests, and only then hands over
to uvicorn's own graceful shutdown, which finishes every request in progress.
"""

from __future__ import annotations

import asyncio
import logging
import signal

log = logging.getLogger("modlabel")


def _uvicorn_server(handler):
    """The uvicorn ``Server`` whose ``handle_exit`` is ``handler``, or None (tests, other servers)."""
    try:
        from uvicorn import Server
    except ImportError:  # pragma: no cover (uvicorn is a dependency)
        return None
    owner = getattr(handler, "__self__", None)
    return owner if isinstance(owner, Server) else None


def install(grace: float) -> bool:
    """Put the drain in front of uvicorn's SIGTERM handling in this process; True when installed.

    Call from the app's startup, in the worker's event loop (uvicorn has installed its
    handlers by then). Does nothing when the process is not a uvicorn server or grace <= 0.
    """
    handler = signal.getsignal(signal.SIGTERM)
    server = _uvicorn_server(handler)
    if server is None or grace <= 0:
        return False
    loop = asyncio.get_running_loop()
    draining = False

    def stop_accepting() -> None:
        for listener in getattr(server, "servers", []):
            listener.close()  # this process's copy of the listening socket; the others keep theirs

    def on_sigterm(sig, frame) -> None:
        nonlocal draining
        if draining or server.should_exit:
            handler(sig, frame)  # a second SIGTERM: no more waiting
            return
        draining = True
        log.info("worker stopping: no new connections, %.2f s for accepted ones to send their requests", grace)
        loop.call_soon_threadsafe(stop_accepting)
        loop.call_soon_threadsafe(loop.call_later, grace, handler, sig, None)

    signal.signal(signal.SIGTERM, on_sigterm)
    return True
