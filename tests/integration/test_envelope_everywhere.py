"""Every response the application produces is the OPP envelope (issue 11 item 5): every registered
route, with every method and with path suffixes that miss it (``/schema/openapi.json.x`` was an HTML
404 of the framework's own OpenAPI pages, which are gone)."""

from __future__ import annotations

import re
from typing import Any

from opp.codes import ReasonCode
from tests.integration.conftest import Gateway

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "BREW")
SUFFIXES = ("", ".x", "/x", "/", "%00", "/..%2f..")
DOCUMENTS = {
    "/openapi.json": "application/json",
    "/metrics": "text/plain",
    "/.well-known/oauth-protected-resource": "application/json",
    "/.well-known/oauth-authorization-server": "application/json",
    "/oauth/jwks": "application/json",
}
"""Successful GETs that are documents in their own format (OpenAPI, Prometheus, RFC 8414/9728, JWKS)."""
CONSOLE = ("/console", ("text/html", "text/css", "text/javascript"))
"""The reviewer console answers browsers with pages (its sign-in and refusal pages too) and assets;
a missing asset, an unknown console path or a wrong method is an envelope."""
MCP = "/mcp"
"""The MCP binding (Streamable HTTP): JSON-RPC 2.0 messages, its errors included."""
CODES = {code.value for code in ReasonCode}
EXTRA_PATHS = (
    "/",
    "/schema",
    "/schema/openapi.json",
    "/schema/openapi.json.x",
    "/schema/swagger",
    "/static/x.js",
)


def _paths(gateway: Gateway) -> list[str]:
    app: Any = gateway.client.app
    templates = {route.path for route in app.routes}
    return sorted({re.sub(r"\{[^}]+\}", "x", template) for template in templates} | set(EXTRA_PATHS))


def _check(method: str, path: str, response: Any) -> None:
    kind = response.headers.get("content-type")
    where = f"{method} {path} -> {response.status_code} {kind} {response.text[:120]}"
    assert response.status_code < 500, where
    if method == "HEAD" or response.status_code == 204:
        assert response.content == b"", where
        return
    document = DOCUMENTS.get(path.rstrip("/"))  # a trailing slash names the same route
    if response.status_code < 300 and method == "GET" and document is not None:
        assert response.headers["content-type"].startswith(document), where
        return
    page = response.headers["content-type"].startswith(CONSOLE[1])
    if page and response.url.path.startswith(CONSOLE[0]) and "/console/static/" not in response.url.path:
        return  # a console page, its sign-in (401) and refusal pages included
    if response.url.path.rstrip("/") == MCP and response.headers["content-type"].startswith(
        "application/json"
    ):
        assert response.json().get("jsonrpc") == "2.0", where  # MCP speaks JSON-RPC 2.0, errors included
        return
    assert response.headers["content-type"].startswith("application/json"), where
    body = response.json()
    assert isinstance(body, dict) and body.get("code") in CODES, where
    assert body["ok"] is (response.status_code < 300), where
    if not body["ok"]:
        assert isinstance(body.get("message"), str) and body["message"], where


async def test_every_route_method_and_near_miss_answers_an_envelope(gateway: Gateway) -> None:
    sent = 0
    for path in _paths(gateway):
        for suffix in SUFFIXES:
            for method in METHODS:
                target = path.rstrip("/") + suffix if suffix else path
                response = await gateway.client.request(method, target or "/")
                _check(method, target, response)
                sent += 1
    assert sent > 500


async def test_the_framework_openapi_pages_are_not_served(gateway: Gateway) -> None:
    for path in ("/schema", "/schema/openapi.json", "/schema/openapi.json.x", "/schema/swagger"):
        response = await gateway.client.get(path)
        assert (response.status_code, response.json()["code"]) == (404, "common.not_found"), path
