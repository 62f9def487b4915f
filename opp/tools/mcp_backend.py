"""Tool backends served by an upstream MCP server (``kind: mcp``): streamable HTTP ``url`` or a
stdio ``command``, reached with the official SDK's client.

The upstream sees the gateway, never the agent: the agent's credential is not forwarded (MCP
forbids token passthrough); ``headers`` — with ``${ENV}`` expanded when the config is compiled —
carry the gateway's own credential for that server, and ``env`` the stdio process's secrets. The
caller's server-side context travels in the call's ``_meta["openport/context"]`` (request id,
app, tenant, idempotency key) for the upstream to scope by.

One client session per backend, held open by a task of its own and reopened on the next call
after it failed. Upstream failures map to sanitised codes; no upstream text reaches the agent:

=====================================  =====================================================
upstream                               result
=====================================  =====================================================
result                                 ``structuredContent``, else ``{"text": …}``
result with ``isError: true``          ``agent.execution_failed`` (None for a resource lookup)
JSON-RPC error                         ``agent.execution_failed``
cannot connect / session lost          ``agent.upstream_unavailable`` (502)
=====================================  =====================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opp.codes import ReasonCode
from opp.config.durations import parse_duration
from opp.config.schema import McpBackend
from opp.errors import OppError
from opp.tools.api import ToolCall
from opp.tools.errors import BackendResolutionError
from opp.tools.http_encoding import expand_env

if TYPE_CHECKING:  # the SDK is imported when an mcp backend is first used (it costs ~0.5 s to import)
    import mcp_types as types
    from mcp.client.client import Client

__all__ = ["CONTEXT_META", "McpBackendRuntime", "McpInvoker", "upstream_client"]

_log = logging.getLogger("opp.tools")
CONTEXT_META = "openport/context"


def _failed() -> OppError:
    return OppError(ReasonCode.EXECUTION_FAILED, "Tool backend failed.")


def _unavailable() -> OppError:
    return OppError(ReasonCode.UPSTREAM_UNAVAILABLE, "Tool backend unavailable.", status=502)


def upstream_client(
    url: str | None, command: tuple[str, ...], *, headers: Mapping[str, str], env: Mapping[str, str] | None
) -> Client:
    """An SDK client for an upstream MCP server (not connected yet)."""
    import httpx2  # noqa: PLC0415
    from mcp.client.client import Client  # noqa: PLC0415
    from mcp.client.stdio import StdioServerParameters  # noqa: PLC0415
    from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415

    if url is not None:
        http = httpx2.AsyncClient(headers=dict(headers), timeout=30.0, trust_env=False)
        return Client(streamable_http_client(url, http_client=http), mode="auto")
    program, *args = command
    return Client(StdioServerParameters(command=program, args=args, env=dict(env) if env else None))


class McpBackendRuntime:
    """A ``kind: mcp`` backend: its settings (resolved at build) and, once used, its session."""

    def __init__(
        self, name: str, backend: McpBackend, *, headers: dict[str, str], env: dict[str, str]
    ) -> None:
        self.name = name
        self._url = backend.url
        self._command = backend.command
        self._headers = headers
        self._env = env
        self.timeout_s = parse_duration(backend.timeout)
        self._client: Client | None = None
        self._holder: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._lock: asyncio.Lock | None = None

    @classmethod
    def build(cls, name: str, backend: McpBackend, *, environ: Mapping[str, str]) -> McpBackendRuntime:
        """Check the settings and expand ``${ENV}`` in headers and env (nothing is connected).

        Raises:
            BackendResolutionError: ``backend.invalid_url`` (neither or both of url/command, or a
                URL that is not absolute http(s)) or ``backend.env_missing``.
        """
        if (backend.url is None) == (not backend.command):
            raise BackendResolutionError(
                "backend.invalid_url",
                f"mcp backend '{name}' needs exactly one of url (streamable HTTP) and command (stdio)",
                "e.g. url: https://mcp.example.com/mcp, or command: [npx, some-mcp-server]",
            )
        if backend.url is not None:
            parsed = urllib.parse.urlsplit(backend.url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise BackendResolutionError(
                    "backend.invalid_url", f"'{backend.url}' is not an absolute http(s) URL", None
                )
        headers = {
            k: expand_env(v, environ, where=f"backends.{name}.headers.{k}")
            for k, v in backend.headers.items()
        }
        env = {k: expand_env(v, environ, where=f"backends.{name}.env.{k}") for k, v in backend.env.items()}
        return cls(name, backend, headers=headers, env=env)

    async def start(self) -> None:
        """Nothing yet: the session opens on the first call (an upstream may start after opp)."""
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        self._closing.set()
        if self._holder is not None:
            with contextlib.suppress(Exception):
                await self._holder
        self._holder = None
        self._client = None

    async def _hold(self, client: Client, ready: asyncio.Future[Client]) -> None:
        try:
            async with client:
                ready.set_result(client)
                await self._closing.wait()
        except BaseException as exc:  # the session ended: the next call reconnects
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            _log.warning("mcp backend %s: session ended (%s)", self.name, type(exc).__name__)
        finally:
            self._client = None

    async def session(self) -> Client:
        """The open session, opening it when there is none."""
        if self._client is not None and self._holder is not None and not self._holder.done():
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is not None and self._holder is not None and not self._holder.done():
                return self._client
            ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
            client = upstream_client(self._url, self._command, headers=self._headers, env=self._env)
            self._holder = asyncio.create_task(self._hold(client, ready))
            try:
                async with asyncio.timeout(self.timeout_s):
                    self._client = await ready
            except Exception as exc:
                _log.warning("mcp backend %s: cannot connect (%s)", self.name, type(exc).__name__)
                raise _unavailable() from None
            return self._client

    def invoker(self, tool: str, *, lookup: bool = False) -> McpInvoker:
        return McpInvoker(self, tool, lookup=lookup)


class McpInvoker:
    """``tools/call`` of one upstream tool with the gateway-validated arguments."""

    def __init__(self, runtime: McpBackendRuntime, tool: str, *, lookup: bool) -> None:
        self._runtime = runtime
        self._tool = tool
        self._lookup = lookup

    async def __call__(self, call: ToolCall) -> Any:
        from mcp.shared.exceptions import MCPError  # noqa: PLC0415

        client = await self._runtime.session()
        context = call.context
        meta = {
            CONTEXT_META: {
                "requestId": context.request_id,
                "appId": context.app_id,
                "tenant": context.tenant,
                "idempotencyKey": context.idempotency_key,
            }
        }
        try:
            result = await client.call_tool(self._tool, dict(call.args), meta=meta)  # type: ignore[arg-type]
        except MCPError as exc:
            _log.warning("mcp backend %s: %s refused (%s)", self._runtime.name, self._tool, exc.error.code)
            raise _failed() from None
        except OppError:
            raise
        except Exception as exc:
            _log.warning("mcp backend %s: %s failed (%s)", self._runtime.name, self._tool, type(exc).__name__)
            raise _unavailable() from None
        return self._value(result)

    def _value(self, result: types.CallToolResult) -> Any:
        if result.is_error:
            if self._lookup:
                return None
            raise _failed()
        if result.structured_content is not None:
            return result.structured_content
        from mcp_types import TextContent  # noqa: PLC0415

        texts = [block.text for block in result.content if isinstance(block, TextContent)]
        return {"text": "\n".join(texts)}
