"""Slow and idle clients cannot exhaust a real ``opp serve``: 500 idle keep-alive connections, a few
that never send a byte and a body trickled one byte at a time, while governed reads keep answering.

``server.header_read_timeout`` closes idle connections, ``server.body_read_timeout`` ends the
trickled body with ``408 common.request_timeout``. One worker, so every connection lands on it.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.servers import RunningServer, demo_config, running_server

IDLE_KEEP_ALIVE = 500
SILENT = 20
"""Connections that never send a byte (granian's HTTP/2 sniffing had no timeout for them)."""
DEADLINE_S = 60.0


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    limits = {"header_read_timeout": "5s", "body_read_timeout": "3s"}
    config = demo_config(tmp_path_factory.mktemp("slow-clients"), {"server": limits})
    with running_server(config, workers=1) as running:
        yield running


def _connect(server: RunningServer) -> socket.socket:
    address = urlsplit(server.base_url)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def _keep_alive(server: RunningServer) -> socket.socket:
    """A connection that made one request, read its answer, and stays open (HTTP/1.1 keep-alive)."""
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    received = b""
    while not received.endswith(b'"data":{"status":"ok"}}'):
        chunk = sock.recv(4096)
        assert chunk, "closed before answering"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK")
    return sock


def _trickle(sock: socket.socket, token: str, stop: threading.Event) -> None:
    """A preflight whose 1,000-byte body comes one byte every 50 ms, until the server answers."""
    head = (
        "POST /api/agent/v1/preflight HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
    )
    sock.sendall(head.encode())
    while not stop.wait(0.05):
        try:
            sock.sendall(b" ")
        except OSError:
            return  # the server closed the connection


def _read_until_closed(sock: socket.socket) -> bytes:
    sock.settimeout(DEADLINE_S)
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def _all_closed_by_the_server(sockets: list[socket.socket]) -> None:
    """Wait until the server has closed every socket in ``sockets`` (each reads EOF or a reset)."""
    deadline = time.monotonic() + DEADLINE_S
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        open_ = len(sockets)
        while open_:
            assert time.monotonic() < deadline, f"{open_} idle connections still open"
            for key, _ in selector.select(timeout=1.0):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                assert data == b"", f"an idle connection received {data[:80]!r}"
                selector.unregister(sock)
                open_ -= 1


def test_idle_and_slow_clients_do_not_stop_governed_reads(server: RunningServer) -> None:
    token = server.token()
    with ExitStack() as stack:
        idle = [stack.enter_context(_keep_alive(server)) for _ in range(IDLE_KEEP_ALIVE)]
        silent = [stack.enter_context(_connect(server)) for _ in range(SILENT)]
        slow = stack.enter_context(_connect(server))
        stop = threading.Event()
        sender = threading.Thread(target=_trickle, args=(slow, token, stop))
        sender.start()
        try:
            with httpx.Client(base_url=server.base_url, timeout=10) as client:
                for _ in range(20):
                    read = client.get("/api/agent/v1/ledgers", headers={"Authorization": f"Bearer {token}"})
                    assert read.status_code == 200, read.text
            answer = _read_until_closed(slow)
        finally:
            stop.set()
            sender.join(10)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 Request Timeout"), answer[:300]
        assert json.loads(body) == {
            "ok": False,
            "code": "common.request_timeout",
            "message": "The request body did not arrive within 3s (server.body_read_timeout).",
        }
        _all_closed_by_the_server(idle + silent)
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200
