"""DPoP replay refusal across the workers of a real ``opp serve --workers 2``.

A proof accepted by one worker must be refused by the other: the replay cache is shared (a SQLite
table beside the store), not per process. The test knows which worker served each connection
(:mod:`tests.support.connections`) and opens fresh connections until the other worker answers, so
both workers are really exercised — no hoping the kernel spreads the requests.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.connections import descendants, serving_pid
from tests.support.servers import RunningServer, demo_config, free_port, run_cli, running_server

LEDGERS = "/api/agent/v1/ledgers"
DEADLINE_S = 60.0


@dataclass
class Served:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class Connection:
    """One kept-alive HTTP/1.1 connection, and the worker process that accepted it."""

    def __init__(self, server: RunningServer, port: int) -> None:
        self._server, self._port = server, port
        self._http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self._http.connect()
        self.worker = self._owner()

    def _owner(self) -> int:
        self.get("/healthz")  # the connection has been accepted once it is answered
        client_port = self._http.sock.getsockname()[1]
        pid = serving_pid(self._port, client_port, descendants(self._server.process.pid))
        assert pid is not None, "no worker holds the connection"
        return pid

    def get(self, path: str, headers: dict[str, str] | None = None) -> Served:
        self._http.request("GET", path, headers=headers or {})
        response = self._http.getresponse()
        body = json.loads(response.read() or b"{}")
        return Served(response.status, body, {k.lower(): v for k, v in response.getheaders()})

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, int]]:
    directory = tmp_path_factory.mktemp("dpop-workers")
    port = free_port()
    oauth = {"enabled": True, "dev_server": {"enabled": True}, "dpop": {"nonce": False}}
    config = demo_config(directory, {"gateway": {"public_url": f"http://127.0.0.1:{port}"}, "oauth": oauth})
    with running_server(config, workers=2, port=port) as server:
        yield server, port


def _token_and_client(server: RunningServer) -> tuple[str, str]:
    result = run_cli("token", str(server.config), "--oauth", cwd=server.config.parent)
    assert result.returncode == 0, result.stderr
    token, key_line = result.stdout.splitlines()
    return token, key_line.removeprefix("DPoP key: ")


def _proof(server: RunningServer, client_file: str, url: str, token: str) -> str:
    result = run_cli("proof", client_file, "GET", url, "--token", token, cwd=server.config.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _connection_to(server: RunningServer, port: int, wanted: Callable[[int], bool]) -> Connection:
    """Fresh connections until one is served by a worker for which ``wanted(pid)`` holds.

    Connections are used at once: an idle keep-alive connection is closed by the server after
    ``server.header_read_timeout``.
    """
    until = time.monotonic() + DEADLINE_S
    seen: set[int] = set()
    while time.monotonic() < until:
        connection = Connection(server, port)
        seen.add(connection.worker)
        if wanted(connection.worker):
            return connection
        connection.close()
    raise AssertionError(f"no connection reached the wanted worker (saw {seen})")


def test_a_proof_accepted_by_one_worker_is_refused_by_the_other(
    two_workers: tuple[RunningServer, int],
) -> None:
    server, port = two_workers
    token, client_file = _token_and_client(server)
    url = server.base_url + LEDGERS
    proof, fresh_proof = (_proof(server, client_file, url, token) for _ in range(2))  # signed before any use
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}

    first = Connection(server, port)
    accepted = first.get(LEDGERS, headers)
    assert accepted.status == 200, accepted.body
    first.close()

    other = _connection_to(server, port, lambda pid: pid != first.worker)
    replayed = other.get(LEDGERS, headers)
    assert replayed.status == 401, replayed.body
    assert (replayed.body["ok"], replayed.body["code"]) == (False, "agent.dpop_invalid")
    assert "replayed" in replayed.body["message"]
    assert 'error="invalid_dpop_proof"' in replayed.headers["www-authenticate"]
    fresh = other.get(LEDGERS, {"Authorization": f"DPoP {token}", "DPoP": fresh_proof})
    assert fresh.status == 200, fresh.body  # the other worker takes a new proof: only the replay was refused
    other.close()

    same = _connection_to(server, port, lambda pid: pid == first.worker)
    again = same.get(LEDGERS, headers)
    assert (again.status, again.body["code"]) == (401, "agent.dpop_invalid")
    same.close()


def test_the_worker_lookup_tells_the_two_workers_apart(two_workers: tuple[RunningServer, int]) -> None:
    """The helper the test above relies on: each connection maps to exactly one of two workers."""
    server, port = two_workers
    workers = set(descendants(server.process.pid))
    first = Connection(server, port)
    first.close()
    other = _connection_to(server, port, lambda pid: pid != first.worker)
    other.close()
    assert {first.worker, other.worker} <= workers and first.worker != other.worker
