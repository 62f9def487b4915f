"""The DNS-rebinding allowlists derived from the public URL (``opp.http.mcp_route.transport_security``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.transport_security import TransportSecurityMiddleware

from opp.config.schema import GatewaySettings, McpConfig
from opp.http.mcp_route import transport_security


def guard(public_url: str, **mcp: Any) -> Any:
    config = SimpleNamespace(
        mcp=McpConfig(**mcp), gateway=GatewaySettings(cors_origins=("https://app.example",))
    )
    plan = SimpleNamespace(oauth=SimpleNamespace(public_url=public_url), config=config)
    return TransportSecurityMiddleware(transport_security(plan))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("public_url", "accepted", "refused"),
    [
        (
            "https://gw.example.com",
            ["gw.example.com", "gw.example.com:443"],
            ["evil.example", "gw.example.com:8443"],
        ),
        (
            "https://gw.example.com:8443",
            ["gw.example.com:8443"],
            ["gw.example.com", "gw.example.com.evil:8443"],
        ),
        (
            "http://127.0.0.1:8080",
            ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"],
            ["localhost:9090", "rebind.evil:8080"],
        ),
        ("http://[::1]:8080", ["[::1]:8080", "localhost:8080"], ["[::2]:8080"]),
    ],
)
def test_hosts(public_url: str, accepted: list[str], refused: list[str]) -> None:
    middleware = guard(public_url)
    assert all(middleware._validate_host(host) for host in accepted)
    assert not any(middleware._validate_host(host) for host in refused)
    assert not middleware._validate_host(None)


def test_origins_and_extras() -> None:
    middleware = guard(
        "https://gw.example.com", allowed_hosts=["internal:*"], allowed_origins=["https://ide.example"]
    )
    for origin in ("https://gw.example.com", "https://app.example", "https://ide.example", None):
        assert middleware._validate_origin(origin)
    for origin in ("http://gw.example.com", "https://evil.example", "null"):
        assert not middleware._validate_origin(origin)
    assert middleware._validate_host("internal:1234")
