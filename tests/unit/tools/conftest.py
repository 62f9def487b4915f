"""Fixtures for backend tests: tool calls, importable throw-away modules, real loopback servers."""

from __future__ import annotations

import datetime as dt
import socket
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import pytest
import uvicorn
from litestar import Litestar, MediaType, Request, Response, get, route
from litestar.enums import HttpMethod
from litestar.params import FromPath

from opp.tools.api import CallContext, ToolCall

NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=dt.UTC)
MakeCall = Callable[..., ToolCall]
MakeModule = Callable[[str], str]


def build_call(
    args: dict[str, Any] | None = None,
    *,
    operation: str = "test.tool",
    tenant: str | None = "org_demo",
    idempotency_key: str | None = None,
    request_id: str = "req_test_1",
    app_policy: dict[str, Any] | None = None,
) -> ToolCall:
    context = CallContext(
        request_id=request_id,
        app_id="app_demo",
        key_id="key_1",
        actor_user_id="svc_org_demo",
        tenant=tenant,
        app_policy=app_policy or {},
        now=NOW,
        idempotency_key=idempotency_key,
    )
    return ToolCall(operation=operation, args=args or {}, context=context)


@pytest.fixture
def make_call() -> MakeCall:
    return build_call


@pytest.fixture
def make_module(tmp_path: Path) -> Iterator[MakeModule]:
    """Write a uniquely named module into tmp_path (the "base_dir"); forget it afterwards."""
    created: list[str] = []

    def make(source: str) -> str:
        name = f"opp_test_backend_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        created.append(name)
        return name

    yield make
    for name in created:
        sys.modules.pop(name, None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()


async def _describe(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = await request.body()
    return {
        "method": request.method,
        "raw_path": request.scope["raw_path"].decode(),
        "query": [list(pair) for pair in parse_qsl(request.scope["query_string"].decode())],
        "headers": dict(request.headers),
        "body": msgspec.json.decode(body) if body else None,
    }


_ALL_METHODS = [HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE]


@route("/echo", http_method=_ALL_METHODS, status_code=200)
async def echo(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await _describe(request)


@route("/items/{item_path:path}", http_method=_ALL_METHODS, status_code=200)
async def items(request: Request[Any, Any, Any], item_path: FromPath[str]) -> dict[str, Any]:
    return await _describe(request)


@get("/envelope")
async def envelope() -> dict[str, Any]:
    return {"ok": True, "code": "common.success", "data": {"x": 1}}


@get("/error-envelope")
async def error_envelope() -> dict[str, Any]:
    return {"ok": False, "code": "app.failed", "message": "SECRET upstream detail"}


@get("/status/{code:int}")
async def status(code: FromPath[int]) -> Response[dict[str, str]]:
    return Response({"error": "SECRET upstream detail"}, status_code=code)


@get("/invalid-json")
async def invalid_json() -> Response[bytes]:
    return Response(b"{SECRET not json", media_type=MediaType.JSON)


@get("/empty", status_code=204)
async def empty() -> None:
    return None


@pytest.fixture(scope="module")
def echo_server() -> Iterator[ServerThread]:
    app = Litestar(route_handlers=[echo, items, envelope, error_envelope, status, invalid_json, empty])
    with ServerThread(app) as server:
        yield server
