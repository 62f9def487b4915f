"""Tool backends served by an HTTP upstream: the application's own API (the production shape).

One pooled :class:`httpx.AsyncClient` per backend, created by :meth:`HttpBackendRuntime.start` and
closed by :meth:`HttpBackendRuntime.close`. Environment proxy settings are ignored: the upstream's
address is the one in ``gateway.yaml``. Upstream failures map to sanitised codes; no upstream text
ever reaches the client:

=============================  =========================================================
upstream                       result
=============================  =========================================================
2xx JSON                       the JSON (an OPP envelope ``{"ok": true, "data": …}`` is unwrapped)
2xx empty                      None
404                            None for a resource lookup, else ``agent.not_found``
400 / 409 / 422                ``agent.action_invalid``
other 3xx / 4xx / 5xx          ``agent.execution_failed``
invalid JSON                   ``agent.execution_failed``
cannot connect                 ``agent.upstream_unavailable`` (502)
timed out                      ``agent.upstream_unavailable`` (504)
=============================  =========================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from opp.codes import ReasonCode
from opp.config.durations import parse_duration
from opp.config.schema import HttpBackend, HttpMethod
from opp.errors import OppError
from opp.tools.api import ToolCall
from opp.tools.errors import BackendResolutionError
from opp.tools.http_encoding import PathTemplate, context_headers, expand_env, query_params

__all__ = ["HttpBackendRuntime", "HttpInvoker"]

_log = logging.getLogger("opp.tools")
_QUERY_METHODS = frozenset({"GET", "DELETE"})
_REJECTED_INPUT = frozenset({400, 409, 422})
_JSON_HEADERS = {"Content-Type": "application/json"}


def _failed() -> OppError:
    return OppError(ReasonCode.EXECUTION_FAILED, "Tool backend failed.")


def _unavailable(status: int) -> OppError:
    return OppError(ReasonCode.UPSTREAM_UNAVAILABLE, "Tool backend unavailable.", status=status)


class HttpBackendRuntime:
    """A ``kind: http`` backend: its settings (resolved at build) and, once started, its client."""

    def __init__(self, name: str, backend: HttpBackend, *, headers: dict[str, str]) -> None:
        self.name = name
        self.base_url = backend.base_url
        self.headers = headers
        self.timeout = httpx.Timeout(
            parse_duration(backend.timeout), connect=parse_duration(backend.connect_timeout)
        )
        self.limits = httpx.Limits(
            max_connections=backend.max_connections, max_keepalive_connections=backend.max_connections
        )
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def build(cls, name: str, backend: HttpBackend, *, environ: Mapping[str, str]) -> HttpBackendRuntime:
        """Check the URL and expand ``${VAR}`` in headers; open nothing.

        Raises:
            BackendResolutionError: ``backend.env_missing`` or ``backend.invalid_url``.
        """
        url = httpx.URL(backend.base_url) if "://" in backend.base_url else None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise BackendResolutionError(
                "backend.invalid_url",
                f"base_url '{backend.base_url}' of backend '{name}' is not an http(s) URL",
                "write e.g. 'http://127.0.0.1:9100'",
            )
        headers = {
            header: expand_env(value, environ, where=f"header '{header}' of backend '{name}'")
            for header, value in backend.headers.items()
        }
        return cls(name, backend, headers=headers)

    async def start(self) -> None:
        """Open the connection pool."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self.headers,
                timeout=self.timeout,
                limits=self.limits,
                follow_redirects=False,
                trust_env=False,
            )

    async def close(self) -> None:
        """Close the connection pool."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    @property
    def client(self) -> httpx.AsyncClient:
        """The pooled client. Raises RuntimeError before :meth:`start`."""
        if self._client is None:
            raise RuntimeError(f"http backend '{self.name}' used before start()")
        return self._client

    def invoker(self, method: HttpMethod, path: str, *, lookup: bool = False) -> HttpInvoker:
        """Bind one route of this backend."""
        return HttpInvoker(self, method, path, lookup=lookup)


class HttpInvoker:
    """One upstream route (``GET /ledgers/{id}``), called with a tool call's arguments."""

    __slots__ = ("_label", "_lookup", "_method", "_runtime", "_sends_query", "_template")

    def __init__(self, runtime: HttpBackendRuntime, method: HttpMethod, path: str, *, lookup: bool) -> None:
        self._runtime = runtime
        self._method = method
        self._template = PathTemplate(path)
        self._sends_query = method in _QUERY_METHODS
        self._lookup = lookup
        self._label = f"{runtime.name} {method} {path}"

    async def __call__(self, call: ToolCall) -> Any:
        """Send the request and map the response (see the module docstring)."""
        path, rest = self._template.render(call.args)
        request_id = call.context.request_id
        headers = context_headers(call.context)
        try:
            if self._sends_query:
                response = await self._runtime.client.request(
                    self._method, path, params=query_params(rest), headers=headers
                )
            else:
                headers.update(_JSON_HEADERS)
                response = await self._runtime.client.request(
                    self._method, path, content=msgspec.json.encode(rest), headers=headers
                )
        except httpx.TimeoutException:
            _log.error("tool backend %s timed out (request_id=%s)", self._label, request_id)
            raise _unavailable(504) from None
        except httpx.TransportError as exc:
            _log.error("tool backend %s unreachable (request_id=%s): %r", self._label, request_id, exc)
            raise _unavailable(502) from None
        except Exception:
            _log.error("tool backend %s failed (request_id=%s)", self._label, request_id, exc_info=True)
            raise _failed() from None
        return self._result(response, request_id)

    def _result(self, response: httpx.Response, request_id: str) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            return self._decode(response, request_id)
        if status == 404:
            if self._lookup:
                return None
            raise OppError(ReasonCode.NOT_FOUND, "Resource not found.")
        _log.error("tool backend %s answered %d (request_id=%s)", self._label, status, request_id)
        if status in _REJECTED_INPUT:
            raise OppError(ReasonCode.ACTION_INVALID, "The application rejected the input.")
        raise _failed()

    def _decode(self, response: httpx.Response, request_id: str) -> Any:
        if not response.content:
            return None
        try:
            body = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            _log.error("tool backend %s returned invalid JSON (request_id=%s)", self._label, request_id)
            raise _failed() from None
        if isinstance(body, dict) and isinstance(body.get("ok"), bool) and ("data" in body or "code" in body):
            if body["ok"] is not True:
                _log.error(
                    "tool backend %s returned an error envelope (request_id=%s)", self._label, request_id
                )
                raise _failed()
            return body.get("data")
        return body
