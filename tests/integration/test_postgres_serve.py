"""``opp serve`` on PostgreSQL: the demo, the core conformance profile, ``opp migrate``, and faults.

A real ``opp serve`` process (2 workers) on the session's throwaway PostgreSQL server (see
:mod:`tests.support.postgres`), the URL read from a file next to ``gateway.yaml`` as from a mounted
Secret. Skipped without PostgreSQL binaries; failed with ``OPP_REQUIRE_INTEROP=1``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from opp.conformance import run_core_profile
from opp.store.migrations import LATEST_VERSION
from tests.conformance.reference import core_profile
from tests.support.postgres import PostgresServer, postgres_server, postgres_url
from tests.support.servers import demo_config, mint_admin_token, mint_token, run_cli, running_server

__all__ = ["postgres_server", "postgres_url"]

pytestmark = pytest.mark.timeout(300)  # several `opp` processes per test on a loaded machine

SECRET = "pw-in-a-file-9173"
RECOVERY_DEADLINE = 45.0
ALL_VERSIONS = ", ".join(str(version) for version in range(1, LATEST_VERSION + 1))
LEDGERS = "/api/agent/v1/ledgers"
ACTIONS = "/api/agent/v1/actions"
CREATE = {
    "ledgerId": "ledger_main",
    "kind": "expense",
    "amount": 12.5,
    "title": "Printer paper",
    "occurredOn": dt.date.today().isoformat(),
}


def _with_password(url: str) -> str:
    """The URL with a password in it (trust authentication ignores it; the tests look for it)."""
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")


def _config(directory: Path, url: str, **store: Any) -> Path:
    (directory / "database-url").write_text(_with_password(url) + "\n", encoding="utf-8")
    # No quotas: the fault tests send requests back to back.
    overrides = {
        "store": {"kind": "postgres", "url_file": "database-url", **store},
        "rate_limits": {"rules": []},
    }
    return demo_config(directory, overrides)


def _migrate(config: Path) -> None:
    applied = run_cli("migrate", str(config), cwd=config.parent)
    assert applied.returncode == 0, applied.stderr
    assert f"applied migrations {ALL_VERSIONS}: schema at version {LATEST_VERSION}" in applied.stdout


def test_serve_refuses_an_unmigrated_database_and_names_opp_migrate(
    tmp_path: Path, postgres_url: str
) -> None:
    config = _config(tmp_path, postgres_url)
    refused = run_cli("serve", str(config), "--port", "0", cwd=tmp_path)
    assert refused.returncode == 1
    assert f"opp migrate {config}" in refused.stderr
    check = run_cli("migrate", str(config), "--check", cwd=tmp_path)
    assert check.returncode == 1
    assert f"pending {ALL_VERSIONS};" in check.stdout and f"run: opp migrate {config}" in check.stdout
    _migrate(config)
    again = run_cli("migrate", str(config), cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert run_cli("migrate", str(config), "--check", cwd=tmp_path).returncode == 0
    for result in (refused, check, again):
        assert SECRET not in result.stdout + result.stderr


def test_an_unreachable_database_stops_serve_without_showing_the_url(tmp_path: Path) -> None:
    config = _config(tmp_path, "postgresql://postgres@127.0.0.1:9/nowhere", pool_timeout="500ms")
    for command in (("serve", str(config), "--port", "0"), ("migrate", str(config))):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 1
        assert "Store unavailable" in result.stderr
        assert SECRET not in result.stdout + result.stderr and "nowhere" not in result.stderr


def test_serve_on_postgres_serves_the_demo_and_passes_the_core_profile(
    tmp_path: Path, postgres_url: str
) -> None:
    config = _config(tmp_path, postgres_url)
    _migrate(config)
    with running_server(config, workers=2) as server:
        token = mint_token(config)
        response = httpx.get(f"{server.base_url}{LEDGERS}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert response.json()["ok"] is True
        checks = run_core_profile(server.base_url, server.token(), core_profile())
        failed = [check.line() for check in checks if not check.passed]
        assert checks and not failed, failed
        assert SECRET not in server.stdout() + server.stderr()
    with psycopg.connect(postgres_url) as connection:
        drafts = connection.execute("SELECT COUNT(*) FROM drafts").fetchone()
        events = connection.execute("SELECT COUNT(*) FROM audit_events").fetchone()
    assert drafts and drafts[0] >= 1  # the profile's write checks went to PostgreSQL
    assert events and events[0] > 0


def test_two_replicas_on_one_database_each_pass_the_core_profile_and_share_state(
    tmp_path: Path, postgres_url: str
) -> None:
    config = _config(tmp_path, postgres_url)
    _migrate(config)
    token = mint_token(config)
    headers = {"Authorization": f"Bearer {token}"}
    with running_server(config) as first, running_server(config) as second:
        for replica in (first, second):
            checks = run_core_profile(replica.base_url, token, core_profile())
            failed = [check.line() for check in checks if not check.passed]
            assert checks and not failed, (replica.base_url, failed)
        created = httpx.post(
            f"{first.base_url}{ACTIONS}",
            json={"action": "transaction.create", "payload": CREATE},
            headers=headers,
            timeout=30,
        )
        assert created.status_code in (200, 201, 202), created.text
        draft_id = created.json()["data"]["draft"]["id"]
        seen = httpx.get(f"{second.base_url}/api/agent/v1/drafts/{draft_id}", headers=headers, timeout=30)
        assert seen.status_code == 200, seen.text
        assert seen.json()["data"]["draft"]["id"] == draft_id


# --- faults -----------------------------------------------------------------------------------


def _is_refusal(response: httpx.Response) -> bool:
    body = response.json()
    return response.status_code == 503 and body["ok"] is False and body["code"] == "agent.unavailable"


async def _traffic(base_url: str, token: str, stop: asyncio.Event, seen: list[httpx.Response]) -> None:
    """Reads and draft creations, back to back, into ``seen`` until ``stop`` is set."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        while not stop.is_set():
            read, write = await asyncio.gather(
                client.get(LEDGERS),
                client.post(ACTIONS, json={"action": "transaction.create", "payload": CREATE}),
            )
            seen += [read, write]


async def _restart_under_traffic(
    server_url: str, token: str, postgres: PostgresServer
) -> list[httpx.Response]:
    stop = asyncio.Event()
    seen: list[httpx.Response] = []
    traffic = asyncio.create_task(_traffic(server_url, token, stop, seen))
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while len(seen) < 10:  # traffic is flowing before the fault
        assert time.monotonic() < deadline and not traffic.done(), "no traffic before the fault"
        await asyncio.sleep(0.02)
    # Down long enough to be seen: a request waits up to pool_timeout for a connection, so a
    # restart quicker than that is absorbed by the pool (and would prove nothing here).
    await asyncio.to_thread(postgres.stop, "immediate")
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while not any(_is_refusal(response) for response in seen):
        assert time.monotonic() < deadline and not traffic.done(), "no 503 while PostgreSQL was down"
        await asyncio.sleep(0.05)
    await asyncio.to_thread(postgres.start)
    async with httpx.AsyncClient(base_url=server_url, headers={"Authorization": f"Bearer {token}"}) as client:
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while (await client.get(LEDGERS)).status_code != 200:
            assert time.monotonic() < deadline, "the gateway did not recover after the restart"
            await asyncio.sleep(0.1)
    stop.set()
    await traffic
    return seen


def test_a_postgres_restart_under_traffic_gives_503s_then_service_resumes(
    tmp_path: Path, postgres_url: str, postgres_server: PostgresServer
) -> None:
    config = _config(tmp_path, postgres_url, pool_timeout="1s")
    _migrate(config)
    token = mint_token(config)
    with running_server(config, workers=2) as server:
        seen = asyncio.run(_restart_under_traffic(server.base_url, token, postgres_server))
        statuses = sorted({response.status_code for response in seen})
        assert all(response.status_code in (200, 201, 202) or _is_refusal(response) for response in seen), (
            statuses,
            [r.text for r in seen if r.status_code >= 500 and not _is_refusal(r)][:3],
        )
        assert any(_is_refusal(response) for response in seen), statuses  # the fault was seen
        # Writes resume too. Each worker has its own pool: one that served no request during the
        # restart still holds broken connections, and each of those answers one more clean 503
        # before the pool replaces it — so resuming is "within a bounded time", not "at once".
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while True:
            after = httpx.post(
                f"{server.base_url}{ACTIONS}",
                json={"action": "transaction.create", "payload": CREATE},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            if after.status_code in (200, 201, 202):
                break
            assert _is_refusal(after), after.text
            assert time.monotonic() < deadline, "writes did not resume after the restart"
            time.sleep(0.1)
        assert SECRET not in server.stdout() + server.stderr()
    with psycopg.connect(postgres_url) as connection:
        orphans = connection.execute(
            "SELECT d.id FROM drafts d WHERE NOT EXISTS"
            " (SELECT 1 FROM audit_events a WHERE a.body LIKE '%' || d.id || '%')"
        ).fetchall()
    assert orphans == []  # every draft committed with its audit event: none half-written


def test_an_exhausted_pool_answers_503_after_its_timeout_then_recovers(
    tmp_path: Path, postgres_url: str
) -> None:
    config = _config(tmp_path, postgres_url, pool_min_size=1, pool_max_size=1, pool_timeout="300ms")
    _migrate(config)
    token, admin = mint_token(config), mint_admin_token(config)
    # Keys never used yet, so their lookups are not cached and need the pool.
    waiting, starved = ({"Authorization": f"Bearer {mint_token(config)}"} for _ in range(2))
    headers = {"Authorization": f"Bearer {token}"}
    with (
        running_server(config, workers=1) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        assert client.get(LEDGERS, headers=headers).status_code == 200
        # Hold a lock that the key lookup waits on: the worker's only connection stays busy.
        with psycopg.connect(postgres_url) as blocker:
            blocker.execute("LOCK TABLE app_keys IN ACCESS EXCLUSIVE MODE")
            refused = asyncio.run(_two_reads(server.base_url, waiting, starved, postgres_url))
            blocker.rollback()
        assert _is_refusal(refused), refused.text
        assert client.get(LEDGERS, headers=headers).status_code == 200
        assert (
            client.get("/api/agent-admin/v1/apps", headers={"Authorization": f"Bearer {admin}"}).status_code
            == 200
        )


async def _two_reads(
    base_url: str, waiting: dict[str, str], starved: dict[str, str], postgres_url: str
) -> httpx.Response:
    """One read that takes the pool's only connection and waits on the lock, then one that finds none."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        first = asyncio.create_task(client.get(LEDGERS, headers=waiting))
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as watcher:
            deadline = time.monotonic() + RECOVERY_DEADLINE
            while not await _waiting_on_a_lock(watcher):
                assert time.monotonic() < deadline and not first.done(), "the first read never waited"
                await asyncio.sleep(0.02)
        second = await client.get(LEDGERS, headers=starved)
        first.cancel()
        return second


async def _waiting_on_a_lock(connection: psycopg.AsyncConnection[Any]) -> bool:
    cursor = await connection.execute(
        "SELECT COUNT(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    row = await cursor.fetchone()
    return bool(row and row[0])
