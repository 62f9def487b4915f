"""A real ``opp serve`` with the MCP binding on, and MCP clients (the official Python SDK) for it.

The gateway's ``public_url`` names its own loopback port (DPoP ``htu`` and the OAuth issuer come from
it), two declared apps have different scopes, and a per-key quota on ``ledger.list`` makes a
rate-limited call easy to produce with a fresh key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Generator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
from joserfc import jws
from joserfc.jwk import ECKey
from mcp.client.client import Client
from mcp.client.extension import ClientExtension
from mcp.client.streamable_http import streamable_http_client

from tests.support.servers import RunningServer, demo_config, free_port, mint_admin_token, run_cli

__all__ = [
    "ADMIN",
    "QUOTA",
    "READER_APP",
    "DpopAuth",
    "admin_get",
    "approve",
    "dpop_client",
    "gateway_config",
    "mcp_client",
    "oauth_token",
]

READER_APP = {
    "id": "app_reader",
    "name": "MCP ledger reader",
    "description": "Lists ledgers only: its MCP tools/list holds one tool.",
    "scope": "workspace",
    "org_id": "org_demo",
    "scopes": ["ledger.read"],
}
ADMIN = "/api/agent-admin/v1"
QUOTA = 3
"""``ledger.list`` calls each key may make per minute (rule ``mcp-ledger-quota``)."""


def gateway_config(directory: Path, **mcp: Any) -> tuple[Path, int]:
    """A demo ``gateway.yaml`` with the MCP binding on; returns it and the port it must serve on."""
    port = free_port()
    overrides = {
        "gateway": {"public_url": f"http://127.0.0.1:{port}"},
        "mcp": {"enabled": True, **mcp},
        "apps": [READER_APP],
        "rate_limits": {
            "rules": [
                {"id": "per-key-ip", "per": ["key", "ip"], "limit": "240/minute"},
                {
                    "id": "mcp-ledger-quota",
                    "per": ["key"],
                    "tools": ["ledger.list"],
                    "limit": f"{QUOTA}/minute",
                },
            ]
        },
    }
    return demo_config(directory, overrides), port


@asynccontextmanager
async def mcp_client(
    server: RunningServer,
    token: str | None = None,
    *,
    mode: str = "legacy",
    auth: httpx2.Auth | None = None,
    extensions: Sequence[ClientExtension] = (),
) -> AsyncIterator[Client]:
    """The SDK client over streamable HTTP, sending ``Bearer token`` (or ``auth``) on every request."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx2.AsyncClient(headers=headers, auth=auth, timeout=30.0) as http:
        transport = streamable_http_client(server.base_url + "/mcp", http_client=http)
        async with Client(transport, mode=mode, extensions=list(extensions)) as client:  # type: ignore[arg-type]
            yield client


def oauth_token(server: RunningServer, *extra: str) -> tuple[str, ECKey]:
    """``opp token --oauth``: a DPoP-bound access token from the dev server and its key."""
    result = run_cli("token", str(server.config), "--oauth", *extra, cwd=server.config.parent)
    assert result.returncode == 0, result.stderr
    token, key_line = result.stdout.splitlines()
    saved = json.loads(Path(key_line.removeprefix("DPoP key: ")).read_text())
    return token, ECKey.import_key(saved["dpop_jwk"])


def _proof(key: ECKey, method: str, url: str, token: str, nonce: str | None) -> str:
    """An RFC 9449 proof built with joserfc, independently of opp."""
    ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    claims = {
        "jti": secrets.token_urlsafe(12),
        "htm": method,
        "htu": url,
        "iat": int(time.time()),
        "ath": ath,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dict(key.as_dict(private=False))}
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["ES256"])


class DpopAuth(httpx2.Auth):
    """``Authorization: DPoP <token>`` plus a fresh proof on every request the MCP client sends,
    retried once with the server's ``DPoP-Nonce`` when it asks for one."""

    requires_request_body = True

    def __init__(self, token: str, key: ECKey) -> None:
        self._token = token
        self._key = key
        self._nonce: str | None = None

    def _sign(self, request: httpx2.Request) -> None:
        url = str(request.url.copy_with(query=None, fragment=None))
        request.headers["Authorization"] = f"DPoP {self._token}"
        request.headers["DPoP"] = _proof(self._key, request.method, url, self._token, self._nonce)

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        self._sign(request)
        response = yield request
        nonce = response.headers.get("DPoP-Nonce")
        if response.status_code == 401 and nonce is not None and nonce != self._nonce:
            self._nonce = nonce
            self._sign(request)
            yield request


@asynccontextmanager
async def dpop_client(server: RunningServer, token: str, key: ECKey) -> AsyncIterator[Client]:
    async with mcp_client(server, auth=DpopAuth(token, key)) as client:
        yield client


def approve(server: RunningServer, draft_id: str, note: str = "ok") -> dict[str, Any]:
    """Approve a draft on the admin plane as a fresh approver; returns the response's ``data``."""
    approver = mint_admin_token(server.config, "approver")
    response = httpx.post(
        f"{server.base_url}{ADMIN}/drafts/{draft_id}/approve",
        json={"note": note},
        headers={"Authorization": f"Bearer {approver}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def admin_get(server: RunningServer, path: str, **params: str) -> Any:
    """``GET`` an admin-plane route as a fresh auditor; returns the response's ``data``."""
    auditor = mint_admin_token(server.config, "auditor")
    response = httpx.get(
        f"{server.base_url}{ADMIN}{path}",
        params=params,
        headers={"Authorization": f"Bearer {auditor}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]
