"""Hostile bytes on the wire against a real ``opp serve`` (issue 11 item 2): malformed chunked
framing on every route that takes a body, and invalid UTF-8 in the request target and headers,
sent over raw sockets (an HTTP client library would refuse to send them).

Every answer is below 500, and every answer of the application is the envelope. Without a valid
credential an agent or admin write is the 401 challenge whatever its framing: the body is not
read before the credential. With one, a body the server could not read is
``400 common.body_malformed``.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from opp.codes import ReasonCode
from opp.compile import compile_file
from tests.support.servers import RunningServer, demo_config, running_server

from .conftest import seed

CODES = {code.value for code in ReasonCode}
FRAMINGS: dict[str, bytes] = {
    "size not hex": b"zz\r\n{}\r\n0\r\n\r\n",
    "size larger than the data": b'5\r\n{"a"\r\n0\r\n\r\n',
    "no CRLF after the data": b"2\r\n{}XX0\r\n\r\n",
    "size overflows": b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
    "extension not text": b"2;e=\xff\xfe\r\n{}\r\n0\r\n\r\n",
    "ends without the last chunk": b"2\r\n{}\r\n",
    "invalid UTF-8 in the data": b"4\r\n\xff\xfe{}\r\n0\r\n\r\n",
}
AGENT_WRITES = ("/api/agent/v1/preflight", "/api/agent/v1/actions")
TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def envelope(self) -> dict[str, Any] | None:
        """The JSON body when the application answered, else None (the server itself answered)."""
        if not self.content_type.startswith("application/json"):
            return None
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def _exchange(server: RunningServer, raw: bytes, *, half_close: bool) -> Answer | None:
    """Send ``raw`` on a fresh connection; the parsed answer, or None if the server just closed."""
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as connection:
        connection.sendall(raw)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
            if _complete(received):
                break
    if not received:
        return None
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    headers = {name.strip().lower(): value.strip() for name, value in headers.items()}
    return Answer(int(lines[0].split()[1]), headers.get("content-type", ""), body)


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _check(answer: Answer | None, where: str) -> Answer | None:
    if answer is None:
        return None  # the server closed the connection without answering: no 5xx either
    assert answer.status < 500, f"{where} -> {answer}"
    body = answer.envelope()
    if body is not None and answer.status >= 400:
        assert body["ok"] is False and body["code"] in CODES and body["message"], f"{where} -> {answer}"
    return answer


@pytest.fixture(scope="module")
def wire_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    """One server for this module, its store seeded in process before it starts (credentials)."""
    config = demo_config(tmp_path_factory.mktemp("fuzz-wire"))
    credentials, _ = asyncio.run(seed(compile_file(str(config))))
    with running_server(config) as server:
        yield server, credentials


def _body_routes(server: RunningServer) -> list[tuple[str, str, bool]]:
    """(method, path, admin) of every documented route that takes a body, and the token endpoint."""
    document = httpx.get(f"{server.base_url}/openapi.json", timeout=TIMEOUT).json()
    routes = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method.upper() in ("POST", "PATCH", "PUT", "DELETE"):
                admin = any("adminToken" in entry for entry in operation.get("security", []))
                routes.append((method.upper(), path.replace("{", "").replace("}", ""), admin))
    return [*routes, ("POST", "/oauth/token", False)]


def test_malformed_chunked_framing_on_every_body_route(
    wire_server: tuple[RunningServer, dict[str, str]],
) -> None:
    server, tokens = wire_server
    sent, statuses = 0, {}
    for method, path, admin in _body_routes(server):
        for credential in (None, tokens["admin" if admin else "agent"]):
            for name, framing in FRAMINGS.items():
                head = (
                    f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n"
                )
                if credential is not None:
                    head += f"Authorization: Bearer {credential}\r\n"
                where = f"{method} {path} [{'credential' if credential else 'none'}] {name}"
                truncated = name == "ends without the last chunk"  # the client then half-closes
                raw = head.encode() + b"\r\n" + framing
                answer = _check(_exchange(server, raw, half_close=truncated), where)
                sent += 1
                status = answer.status if answer else 0
                assert answer is not None, f"{where}: no answer"
                statuses[status] = statuses.get(status, 0) + 1
                if path in AGENT_WRITES:
                    expected = 401 if credential is None else 400
                    assert (answer.status, answer.envelope() is not None) == (expected, True), (
                        f"{where} -> {answer}"
                    )
    assert statuses.get(500, 0) == 0
    print(f"fuzz wire (chunked): {sent} requests, statuses {dict(sorted(statuses.items()))}")


def test_invalid_utf8_in_the_request_target_and_headers(
    wire_server: tuple[RunningServer, dict[str, str]],
) -> None:
    server, tokens = wire_server
    agent = tokens["agent"].encode()
    cases = {
        "query": b"GET /api/agent/v1/transactions?ledgerId=\xff\xfe HTTP/1.1\r\nAuthorization: Bearer "
        + agent,
        "query, percent-encoded": b"GET /api/agent-admin/v1/audit?appId=%FF%FE&since=%C3%28 HTTP/1.1\r\n"
        b"Authorization: Bearer " + tokens["admin"].encode(),
        "path": b"GET /api/agent/v1/drafts/\xc3\x28 HTTP/1.1\r\nAuthorization: Bearer " + agent,
        "path, percent-encoded": b"GET /api/agent/v1/drafts/%ED%A0%80 HTTP/1.1\r\nAuthorization: Bearer "
        + agent,
        "authorization": b"GET /api/agent/v1/ledgers HTTP/1.1\r\nAuthorization: Bearer \xff\xfe\xfd",
        "dpop": b"GET /api/agent/v1/ledgers HTTP/1.1\r\nAuthorization: DPoP x\r\nDPoP: \xff.\xfe.\xfd",
        "x-forwarded-for": b"GET /api/agent/v1/ledgers HTTP/1.1\r\nX-Forwarded-For: \xff\xfe\r\n"
        b"Authorization: Bearer " + agent,
        "x-request-id": b"GET /healthz HTTP/1.1\r\nX-Request-Id: \xc3\x28",
        "user-agent": b"GET /api/agent/v1/manifest HTTP/1.1\r\nUser-Agent: \xed\xa0\x80\r\n"
        b"Authorization: Bearer " + agent,
        "idempotency-key": b"POST /api/agent/v1/actions HTTP/1.1\r\nIdempotency-Key: \xff\xfe\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\nAuthorization: Bearer " + agent,
    }
    for name, request in cases.items():
        body = b"{}" if b"Content-Length: 2" in request else b""
        raw = request + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" + body
        answer = _check(_exchange(server, raw, half_close=False), name)
        assert answer is not None, f"{name}: no answer"
    print(f"fuzz wire (UTF-8): {len(cases)} requests")


def test_the_server_still_answers(wire_server: tuple[RunningServer, dict[str, str]]) -> None:
    server, _ = wire_server
    assert httpx.get(f"{server.base_url}/healthz", timeout=TIMEOUT).status_code == 200
    assert Path(server.config).exists()
