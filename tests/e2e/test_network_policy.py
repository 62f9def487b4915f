"""Network policy over real sockets (SPEC §4 step 5): the client IP is the socket peer, and
``X-Forwarded-For`` counts only from a configured trusted proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.admin import AdminPlane, CreatedApp
from tests.support.required import unavailable
from tests.support.servers import RunningServer, demo_config, ipv6_loopback_available, running_server

MANIFEST = "/api/agent/v1/manifest"


def _server(
    tmp: Path, *, host: str = "127.0.0.1", trusted_proxies: list[str] | None = None
) -> Iterator[RunningServer]:
    overrides = {"gateway": {"trusted_proxies": trusted_proxies}} if trusted_proxies else None
    with running_server(demo_config(tmp, overrides), host=host) as server:
        yield server


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """No trusted proxies (the root config)."""
    yield from _server(tmp_path_factory.mktemp("direct"))


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``gateway.trusted_proxies: [127.0.0.1/32]``: loopback peers are a proxy."""
    yield from _server(tmp_path_factory.mktemp("proxied"), trusted_proxies=["127.0.0.1/32"])


@pytest.fixture(scope="module")
def over_ipv6(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if not ipv6_loopback_available():
        unavailable("IPv6 loopback (::1) cannot be bound on this machine")
    yield from _server(tmp_path_factory.mktemp("ipv6"), host="::1")


def _app_allowing(server: RunningServer, cidrs: list[str]) -> tuple[AdminPlane, CreatedApp]:
    admin = AdminPlane(server.base_url, server.admin_token())
    app = admin.create_app("network-policy-test")
    admin.set_allowed_ips(app.app_id, cidrs)
    return admin, app


def _manifest(server: RunningServer, token: str, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return httpx.get(f"{server.base_url}{MANIFEST}", headers=headers, timeout=10.0)


def _assert_denied(response: httpx.Response) -> None:
    assert response.status_code == 403
    body = response.json()
    assert body["ok"] is False and body["code"] == "agent.policy_denied"


def test_the_socket_address_is_checked_against_the_allowlist(direct: RunningServer) -> None:
    admin, app = _app_allowing(direct, ["10.0.0.0/8"])
    _assert_denied(_manifest(direct, app.token))
    admin.set_allowed_ips(app.app_id, ["127.0.0.0/8"])
    response = _manifest(direct, app.token)
    assert response.status_code == 200 and response.json()["data"]["app"]["id"] == app.app_id


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(direct: RunningServer) -> None:
    _, app = _app_allowing(direct, ["10.0.0.0/8"])
    _assert_denied(_manifest(direct, app.token, forwarded_for="10.1.1.1"))


def test_forwarded_for_from_a_trusted_proxy_is_believed(behind_proxy: RunningServer) -> None:
    _, app = _app_allowing(behind_proxy, ["10.0.0.0/8"])
    assert _manifest(behind_proxy, app.token, forwarded_for="10.1.1.1").status_code == 200
    _assert_denied(_manifest(behind_proxy, app.token))  # no header: the proxy itself is the client
    _assert_denied(_manifest(behind_proxy, app.token, forwarded_for="192.0.2.7"))


def test_an_ipv6_allowlist_admits_a_client_on_ipv6_loopback(over_ipv6: RunningServer) -> None:
    admin, app = _app_allowing(over_ipv6, ["::1/128"])
    response = _manifest(over_ipv6, app.token)
    assert response.status_code == 200 and response.json()["data"]["app"]["id"] == app.app_id
    admin.set_allowed_ips(app.app_id, ["127.0.0.0/8"])
    _assert_denied(_manifest(over_ipv6, app.token))
