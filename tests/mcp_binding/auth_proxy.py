"""A credential-injecting reverse proxy on loopback, for peers that cannot send a credential.

The MCP conformance suite connects without an ``Authorization`` header, but the gateway requires a
credential on every MCP request. This proxy adds ``Authorization: Bearer KEY`` and forwards
everything else unchanged — method, path, body, and the ``Host`` and ``Origin`` headers the
DNS-rebinding checks read — the way a sidecar holding the agent's key would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

__all__ = ["auth_proxy"]

_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"authorization"}


def _app(upstream: str, token: str) -> Any:
    client = httpx.AsyncClient(base_url=upstream, timeout=30.0)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k.lower() not in _HOP
        ]
        headers.append(("Authorization", f"Bearer {token}"))
        target = scope["path"] + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        response = await client.request(scope["method"], target, headers=headers, content=bytes(body))
        out = [
            (k.encode(), v.encode()) for k, v in response.headers.items() if k.lower().encode() not in _HOP
        ]
        out.append((b"content-length", str(len(response.content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": response.content})

    return app


@contextmanager
def auth_proxy(port: int, upstream: str, token: str) -> Iterator[str]:
    """Serve the proxy on ``127.0.0.1:port`` until the block exits; yields its base URL."""
    config = uvicorn.Config(
        _app(upstream, token), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the auth proxy did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10.0)
