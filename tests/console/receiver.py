"""A webhook receiver for the console tests: verifies signatures as docs/CONSOLE.md tells receivers to.

It answers 503 to the first attempt of every delivery whose event is in ``fail_first`` (to exercise
retries), records every request, and classifies each one as ``ok``, ``bad_signature``, ``stale`` or
``replay`` (a delivery id it already accepted).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.servers import free_port

__all__ = ["Received", "Receiver", "running_receiver", "verdict"]

MAX_AGE_S = 300


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    verdict: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def verdict(secret: bytes, headers: dict[str, str], body: bytes, seen: set[str], now: float) -> str:
    """The documented receiver check: fresh timestamp, matching HMAC, delivery id not seen before."""
    timestamp = headers.get("x-opp-timestamp", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > MAX_AGE_S:
        return "stale"
    expected = "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-opp-signature", "")):
        return "bad_signature"
    if headers.get("x-opp-delivery", "") in seen:
        return "replay"
    return "ok"


@dataclass
class Receiver:
    url: str
    secret: bytes
    fail_first: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    _attempted: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            result = verdict(self.secret, headers, body, self.accepted, time.time())
            delivery = headers.get("x-opp-delivery", "")
            status = 200
            if result != "ok":
                status = 409 if result == "replay" else 401
            elif headers.get("x-opp-event") in self.fail_first and delivery not in self._attempted:
                status = 503
            self._attempted.add(delivery)
            if status == 200:
                self.accepted.add(delivery)
            self.received.append(Received(path, headers, body, status, result))
            return status

    def for_draft(self, draft_id: str, event: str | None = None, path: str = "/hook") -> list[Received]:
        with self._lock:
            return [
                r
                for r in self.received
                if r.path == path
                and draft_id in r.headers.get("x-opp-delivery", "")
                and (event is None or r.headers.get("x-opp-event") == event)
            ]


@contextmanager
def running_receiver(secret: bytes, fail_first: set[str]) -> Iterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}", secret, fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(self.path, headers, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
