"""What a real ``opp serve`` answers at the HTTP-server level: malformed requests, long targets and
headers (``server.max_url_bytes``, ``server.max_header_bytes``), over raw sockets so nothing is
normalised by a client library.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.servers import RunningServer, demo_config, running_server

MAX_URL = 1024
MAX_HEADER = 16384
"""A head is refused once this much is buffered without its end; one more read may complete it, so
heads up to about 1.5 times this can pass: the refused cases here are twice as large."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    limits = {"max_url_bytes": MAX_URL, "max_header_bytes": MAX_HEADER}
    config = demo_config(tmp_path_factory.mktemp("limits"), {"server": limits})
    with running_server(config, workers=1) as running:
        yield running


def exchange(server: RunningServer, request: bytes) -> bytes:
    """Send ``request`` on a fresh connection; everything the server sends until it closes."""
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def get(target: str, *headers: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def status_and_body(response: bytes) -> tuple[str, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


def test_a_malformed_request_line_is_400_from_the_server_with_an_empty_body(server: RunningServer) -> None:
    assert status_and_body(exchange(server, b"NOT A REQUEST\r\n\r\n")) == ("HTTP/1.1 400 Bad Request", b"")


def test_a_target_over_max_url_bytes_is_414_in_the_envelope(server: RunningServer) -> None:
    target = "/healthz?pad=" + "a" * MAX_URL
    status, body = status_and_body(exchange(server, get(target)))
    assert status == "HTTP/1.1 414 URI Too Long"
    assert json.loads(body) == {
        "ok": False,
        "code": "common.uri_too_long",
        "message": f"The request target is longer than {MAX_URL} bytes (server.max_url_bytes).",
    }


def test_a_target_of_exactly_max_url_bytes_reaches_the_route(server: RunningServer) -> None:
    target = "/healthz?pad="
    target += "a" * (MAX_URL - len(target))
    status, body = status_and_body(exchange(server, get(target)))
    assert (status, json.loads(body)["code"]) == ("HTTP/1.1 200 OK", "common.success")


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(get("/healthz?pad=" + "a" * 2 * MAX_HEADER), id="target-past-the-header-buffer"),
        pytest.param(get("/healthz", "X-Pad: " + "a" * 2 * MAX_HEADER), id="one-large-header"),
        pytest.param(get("/healthz", *(f"X-Field-{n}: a" for n in range(101))), id="101-header-fields"),
    ],
)
def test_a_head_over_max_header_bytes_is_431_from_the_server(
    server: RunningServer, request_bytes: bytes
) -> None:
    status, body = status_and_body(exchange(server, request_bytes))
    assert (status, body) == ("HTTP/1.1 431 Request Header Fields Too Large", b"")


def test_the_header_limit_does_not_limit_bodies(server: RunningServer) -> None:
    token = server.token()
    notes = "n" * (4 * MAX_HEADER)
    response = httpx.post(
        f"{server.base_url}/api/agent/v1/preflight",
        json={"action": "transaction.create", "payload": {"notes": notes}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "agent.action_invalid"


def test_a_body_over_the_limit_is_413_and_closes_its_connection_so_the_next_request_is_answered(
    server: RunningServer,
) -> None:
    # The unread rest of the body makes the connection unusable: the 413 says so (Connection:
    # close), so a client opens a new one for its next request instead of racing the close.
    headers = {"Authorization": f"Bearer {server.token()}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(5):
            refused = client.post("/api/agent/v1/preflight", content=b"a" * 2_100_000, headers=headers)
            assert refused.status_code == 413
            assert refused.headers["connection"] == "close"
            assert refused.json()["code"] == "common.payload_too_large"
            nested = client.post("/api/agent/v1/preflight", content=b"[" * 5000, headers=headers)
            assert nested.status_code == 400


def test_the_server_keeps_serving_after_refusals(server: RunningServer) -> None:
    exchange(server, b"\x16\x03\x01garbage\r\n\r\n")
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def test_the_defaults_are_8_kib_targets_and_32_kib_heads(tmp_path: Path) -> None:
    with running_server(demo_config(tmp_path), workers=1) as running:
        assert status_and_body(exchange(running, get("/healthz?pad=" + "a" * 8192)))[0].endswith(
            "414 URI Too Long"
        )
        large = get("/healthz", "X-Pad: " + "a" * 2 * 32768)
        assert status_and_body(exchange(running, large))[0].endswith("431 Request Header Fields Too Large")
        fits = get("/healthz", "X-Pad: " + "a" * 20000)
        assert status_and_body(exchange(running, fits))[0] == "HTTP/1.1 200 OK"
