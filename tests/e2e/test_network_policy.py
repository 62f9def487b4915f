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
PROXY_TIER = "10.9.0.0/16"


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
    """``gateway.trusted_proxies``: loopback peers are a proxy, and so is the inner tier 10.9.0.0/16."""
    yield from _server(tmp_path_factory.mktemp("proxied"), trusted_proxies=["127.0.0.1/32", PROXY_TIER])


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


def _manifest(
    server: RunningServer, token: str, forwarded_for: str | list[str] | None = None
) -> httpx.Response:
    """GET the manifest; a list sends one ``X-Forwarded-For`` line per item, in order."""
    headers = [("Authorization", f"Bearer {token}")]
    if forwarded_for is not None:
        lines = forwarded_for if isinstance(forwarded_for, list) else [forwarded_for]
        headers += [("X-Forwarded-For", line) for line in lines]
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


@pytest.mark.parametrize(
    ("forwarded_for", "admitted"),
    [
        ("192.0.2.7, 10.1.1.1", True),  # the right-most hop is what the trusted proxy saw
        ("10.1.1.1, 192.0.2.7", False),  # a client-written left-most hop cannot pass the allowlist
        ("10.1.1.1, 10.1.1.2, 192.0.2.7", False),
        ("192.0.2.7, 10.1.1.1, 10.9.0.5", True),  # trusted hops are skipped from the right
        ("10.1.1.1, 192.0.2.7, 10.9.0.5, 10.9.3.3", False),  # ... up to the first untrusted one
        ("10.1.1.1,10.9.0.5", True),  # no spaces
        ("10.9.0.5, 10.9.0.6", False),  # only proxies: the left-most proxy is the client
        ("not-an-ip, 10.1.1.1", True),  # hops left of the client are never read
        ("10.1.1.1, not-an-ip", False),  # an unparsable hop before the client fails closed
        ("10.1.1.1, not-an-ip, 10.9.0.5", False),
        ("10.1.1.1,", False),  # an empty hop is unparsable
        ("10.1.1.1,,10.9.0.5", False),
        ("10.1.1.1, 10.1.1.1/32", False),  # a network is not an address
        ("::ffff:10.1.1.1", True),  # an IPv4-mapped address is the IPv4 one
        (["10.1.1.1", "192.0.2.7"], False),  # several header lines read as one list, in order
        (["192.0.2.7", "10.1.1.1, 10.9.0.5"], True),
    ],
)
def test_forwarded_for_chains_take_the_right_most_untrusted_hop(
    behind_proxy: RunningServer, forwarded_for: str | list[str], admitted: bool
) -> None:
    _, app = _app_allowing(behind_proxy, ["10.1.0.0/16"])
    response = _manifest(behind_proxy, app.token, forwarded_for=forwarded_for)
    if admitted:
        assert response.status_code == 200, response.text
        assert response.json()["data"]["app"]["id"] == app.app_id
    else:
        _assert_denied(response)


def test_an_unparsable_hop_fails_closed_only_where_an_allowlist_applies(behind_proxy: RunningServer) -> None:
    """No client address means no address matches any allowlist; an app without one is unaffected."""
    admin, app = _app_allowing(behind_proxy, ["0.0.0.0/0", "::/0"])
    _assert_denied(_manifest(behind_proxy, app.token, forwarded_for="10.1.1.1, garbage"))
    admin.set_allowed_ips(app.app_id, [])
    assert _manifest(behind_proxy, app.token, forwarded_for="10.1.1.1, garbage").status_code == 200


def test_an_ipv6_allowlist_admits_a_client_on_ipv6_loopback(over_ipv6: RunningServer) -> None:
    admin, app = _app_allowing(over_ipv6, ["::1/128"])
    response = _manifest(over_ipv6, app.token)
    assert response.status_code == 200 and response.json()["data"]["app"]["id"] == app.app_id
    admin.set_allowed_ips(app.app_id, ["127.0.0.0/8"])
    _assert_denied(_manifest(over_ipv6, app.token))
