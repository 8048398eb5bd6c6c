"""A worker told to stop (SIGTERM, as in every rolling restart) answers the connections it has accepted."""

from __future__ import annotations

import signal
import socket
import time

import pytest

from tests.test_client import live_server, server_env

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"


def _stop_then_send(tmp_path, drain: str) -> tuple[bytes, bool]:
    """Connect, SIGTERM the server, then send the request: (the reply, whether a new connection was refused)."""
    with live_server(server_env(tmp_path / "data", MODLABEL_SHUTDOWN_DRAIN_SECONDS=drain)) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        time.sleep(0.3)  # the worker's loop accepts the connection; no request on it yet
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.15)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except ConnectionRefusedError:
            refused = True
        try:
            conn.sendall(REQUEST)
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        except OSError:  # reset: the connection was closed under the request
            reply = b""
        finally:
            conn.close()
        proc.wait(timeout=20)
    return reply, refused


@pytest.mark.slow
def test_a_stopping_worker_answers_a_connection_it_accepted_before_the_signal(tmp_path):
    reply, refused = _stop_then_send(tmp_path, "1.0")
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert refused  # it stopped accepting at once: new connections go to the other workers


@pytest.mark.slow
def test_without_the_drain_that_connection_is_closed_unanswered(tmp_path):
    """uvicorn's own shutdown closes an accepted connection with no request yet: what the drain prevents."""
    reply, _ = _stop_then_send(tmp_path, "0")
    assert reply == b""
