"""An HTTP upstream that counts its effects: every ``POST /effects`` is one, never deduplicated.

The ledger service answers a retried create with the same row, so it cannot show a duplicate
execution; this one can. Runs in a thread of the test process on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class EffectCounter(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.effects: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: EffectCounter

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self._answer(401, {"error": "unauthorized"})
            return
        with self.server.lock:
            self.server.effects.append(
                {
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "tenant": self.headers.get("X-OPP-Tenant"),
                    **body,
                }
            )
            number = len(self.server.effects)
        self._answer(201, {"effect": number, "note": body.get("note")})


@contextmanager
def effect_counter(token: str) -> Iterator[EffectCounter]:
    server = EffectCounter(token)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
