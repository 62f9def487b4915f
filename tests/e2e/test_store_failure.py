"""The SQLite store failing under a real ``opp serve``: requests fail closed, the server recovers.

Two real failures, both caused from outside the server while it runs:

- *locked past the budget*: another process holds the file's write lock longer than the store's
  busy timeout (5 s);
- *disk full*: the worker's ``RLIMIT_FSIZE`` is lowered with ``prlimit`` so no file of its can grow
  (Python ignores ``SIGXFSZ``: SQLite sees ``EFBIG``, as on a full disk).

Each time a write is ``503 agent.unavailable`` with ``Retry-After``, nothing of it is stored or
executed (the backend records every effect in ``effects.log``), liveness stays up, and the same
request succeeds, once, when the store is back — no restart.
"""

from __future__ import annotations

import resource
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.admin import ADMIN_PREFIX, AdminPlane
from tests.support.servers import (
    RunningServer,
    crash_backend_config,
    executed_create,
    mint_token,
    run_cli,
    running_server,
)

ACTIONS = "/api/agent/v1/actions"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    config = crash_backend_config(tmp_path, "apply")
    mint_token(config)  # creates the store before the server starts
    with running_server(config, workers=1) as running:
        yield running


def _effects(server: RunningServer) -> list[str]:
    log = server.config.parent / "effects.log"
    return log.read_text().split() if log.exists() else []


@contextmanager
def _write_lock_held(database: Path) -> Iterator[None]:
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@contextmanager
def _no_file_may_grow(pid: int) -> Iterator[None]:
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))  # the soft limit only: no privilege needed
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


def _assert_fails_closed(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"ok": False, "code": "agent.unavailable", "message": "Store unavailable."}
    assert response.headers["Retry-After"] == "1"


def _check_failure_then_recovery(server: RunningServer, failure: Any, key: str) -> None:
    token, admin = server.token(), server.admin_token()
    agent = {"Authorization": f"Bearer {token}"}
    admin_headers = {"Authorization": f"Bearer {admin}"}
    plane = AdminPlane(server.base_url, admin)
    plane.open_writes_window()
    drafts = f"{server.base_url}{ADMIN_PREFIX}/drafts"
    before = httpx.get(drafts, headers=admin_headers).json()["data"]["items"]
    with httpx.Client(base_url=server.base_url, timeout=30) as client, failure:
        _assert_fails_closed(client.post(ACTIONS, json=executed_create(key), headers=agent))
        new_app = {
            "name": f"refused-{key}",
            "scope": "workspace",
            "org_id": "org_demo",
            "scopes": ["ledger.read"],
        }
        _assert_fails_closed(client.post(f"{ADMIN_PREFIX}/apps", json=new_app, headers=admin_headers))
        assert client.get("/healthz").status_code == 200
    assert key not in _effects(server)
    assert httpx.get(drafts, headers=admin_headers).json()["data"]["items"] == before
    apps = httpx.get(f"{server.base_url}{ADMIN_PREFIX}/apps", headers=admin_headers).json()["data"]["items"]
    assert f"refused-{key}" not in {app["name"] for app in apps}
    retried = httpx.post(f"{server.base_url}{ACTIONS}", json=executed_create(key), headers=agent, timeout=30)
    assert (retried.status_code, retried.json()["data"]["status"]) == (200, "executed"), retried.text
    assert _effects(server).count(key) == 1


def _audit_verifies(server: RunningServer) -> None:
    verified = run_cli("audit", "verify", str(server.config), cwd=server.config.parent)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_write_lock_held_past_the_budget_fails_closed_and_recovers(server: RunningServer) -> None:
    database = server.config.parent / ".opp" / "opp.db"
    _check_failure_then_recovery(server, _write_lock_held(database), "locked-1")
    _audit_verifies(server)


def test_a_full_disk_fails_closed_and_the_server_recovers(server: RunningServer) -> None:
    worker = server.worker_pids()[1]
    _check_failure_then_recovery(server, _no_file_may_grow(worker), "full-1")
    _audit_verifies(server)
