"""Admission control end to end (SPEC §4 step 6, §8): a retry storm gets 429s with the draft's
headers and leaves every counter unchanged — no draft, execution, preflight, idempotency record or
backend call — and only its first refusal is audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import AsyncTestClient

from opp.clock import FrozenClock
from opp.compile import compile_file
from opp.compile.plan import Plan, ToolPlan
from opp.http.app import create_app
from opp.http.runtime import Runtime
from opp.tools.api import Invoker, ToolCall
from tests.integration.conftest import ROOT, Gateway, _admin_token
from tests.integration.writes_support import ACTIONS, ADMIN, PREFLIGHT, create_payload, open_window

TABLES = ("drafts", "executions", "preflights", "idempotency_keys", "draft_approvals")
RATE_LIMIT = re.compile(r'^"per-key-ip";r=0;t=(\d+)$')


def _config(tmp_path: Path, rules: list[dict[str, Any]]) -> Path:
    document = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    document["rate_limits"] = {"storage": "memory://", "strategy": "fixed-window", "rules": rules}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _counting(invoker: Invoker, name: str, calls: Counter[str]) -> Invoker:
    async def counted(call: ToolCall) -> Any:
        calls[name] += 1
        return await invoker(call)

    return counted


def _counting_plan(plan: Plan, calls: Counter[str]) -> Plan:
    """The plan with every tool backend and resource lookup counting its calls."""

    def wrap(tool: ToolPlan) -> ToolPlan:
        resource = tool.resource
        if resource is not None:
            lookup = _counting(resource.lookup, f"{tool.name}:lookup", calls)
            resource = dataclasses.replace(resource, lookup=lookup)
        return dataclasses.replace(tool, backend=_counting(tool.backend, tool.name, calls), resource=resource)

    tools = tuple(wrap(tool) for tool in plan.tools)
    return dataclasses.replace(plan, tools=tools, tools_by_name={tool.name: tool for tool in tools})


@dataclasses.dataclass
class Limited(Gateway):
    calls: Counter[str] = dataclasses.field(default_factory=Counter)
    database: str = ""

    async def rows(self) -> dict[str, int]:
        """Row counts of every table a write creates, plus the audit table, on the SQLite file."""
        await self.runtime.audit.flush()
        with sqlite3.connect(self.database) as db:
            counts = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}
            counts["audit_events"] = db.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        return counts


async def _limited(tmp_path: Path, rules: list[dict[str, Any]]) -> AsyncIterator[Limited]:
    calls: Counter[str] = Counter()
    plan = _counting_plan(compile_file(str(_config(tmp_path, rules))), calls)
    clock = FrozenClock(dt.datetime.now(dt.UTC))
    runtime = Runtime(plan, clock=clock)  # the real SQLite store, in tmp_path
    async with AsyncTestClient(app=create_app(plan, runtime)) as client:
        await runtime.integrations.bootstrap()
        _, token = await runtime.integrations.add_key("app_demo", "test key")
        yield Limited(
            client=client,
            runtime=runtime,
            token=token,
            clock=clock,
            admin=await _admin_token(runtime, "admin"),
            auditor=await _admin_token(runtime, "auditor"),
            calls=calls,
            database=plan.store_path,
        )


@pytest.fixture
async def strict(tmp_path: Path) -> AsyncIterator[Limited]:
    """Three requests a minute per key and address."""
    async for gateway in _limited(
        tmp_path, [{"id": "per-key-ip", "per": ["key", "ip"], "limit": "3/minute"}]
    ):
        yield gateway


@pytest.fixture
async def per_tool(tmp_path: Path) -> AsyncIterator[Limited]:
    """A generous request quota; one listing and one created transaction a minute per key."""
    rules = [
        {"id": "per-key-ip", "per": ["key", "ip"], "limit": "1000/minute"},
        {"id": "listings", "per": ["key"], "tools": ["transaction.list"], "limit": "1/minute"},
        {"id": "creates", "per": ["key"], "tools": ["transaction.create"], "limit": "1/minute"},
    ]
    async for gateway in _limited(tmp_path, rules):
        yield gateway


def _storm_requests(gw: Limited) -> list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]:
    """A retry storm over every kind of agent work: reads, preflights, drafts and executions."""
    auth = gw.auth()
    execute = {"action": "transaction.create", "payload": create_payload(), "execute": True}
    return [
        ("POST", ACTIONS, execute, {**auth, "Idempotency-Key": "retry-1"}),
        ("POST", ACTIONS, {"action": "transaction.create", "payload": create_payload()}, auth),
        ("POST", PREFLIGHT, {"action": "transaction.delete", "payload": {"transactionId": "txn_1"}}, auth),
        ("GET", "/api/agent/v1/transactions?ledgerId=ledger_main", None, auth),
        ("GET", "/api/agent/v1/manifest", None, auth),
    ] * 6


async def test_a_retry_storm_gets_429s_and_changes_nothing(strict: Limited) -> None:
    await open_window(strict)  # so an admitted execute=True would really execute
    ok = await strict.client.post(
        PREFLIGHT,
        json={"action": "transaction.delete", "payload": {"transactionId": "txn_1"}},
        headers=strict.auth(),
    )
    assert ok.status_code == 200, ok.text
    for _ in range(2):
        assert (await strict.client.get("/api/agent/v1/manifest", headers=strict.auth())).status_code == 200
    rows_before, calls_before = await strict.rows(), dict(strict.calls)

    responses = [
        await strict.client.request(method, path, json=body, headers=headers)
        for method, path, body, headers in _storm_requests(strict)
    ]

    assert {response.status_code for response in responses} == {429}
    assert {response.json()["code"] for response in responses} == {"agent.rate_limited"}
    rows_after = await strict.rows()
    assert {table: rows_after[table] for table in TABLES} == {table: rows_before[table] for table in TABLES}
    assert dict(strict.calls) == calls_before
    assert rows_after["audit_events"] == rows_before["audit_events"] + 1  # the first refusal only
    assert strict.runtime.authorizer.admission.rejections == {"per-key-ip": len(responses)}


async def test_the_refusal_carries_the_draft_headers_and_the_envelope(strict: Limited) -> None:
    for _ in range(3):
        await strict.client.get("/api/agent/v1/manifest", headers=strict.auth())

    response = await strict.client.get("/api/agent/v1/ledgers", headers=strict.auth())

    assert response.status_code == 429
    match = RATE_LIMIT.match(response.headers["RateLimit"])
    assert match is not None, response.headers["RateLimit"]
    assert response.headers["Retry-After"] == match.group(1)
    assert 1 <= int(match.group(1)) <= 60
    assert response.headers["RateLimit-Policy"] == '"per-key-ip";q=3;w=60'
    assert response.headers["X-Request-Id"]
    body = response.json()
    assert body["ok"] is False and body["code"] == "agent.rate_limited"
    assert body["details"] == {"violatedPolicies": ["per-key-ip"], "retryAfterSeconds": int(match.group(1))}
    events = await strict.events(code="agent.rate_limited")
    assert len(events) == 1
    assert (events[0].status, events[0].app_id, events[0].ip) == ("denied", "app_demo", "testclient")


async def test_another_key_keeps_its_own_quota(strict: Limited) -> None:
    for _ in range(3):
        await strict.client.get("/api/agent/v1/manifest", headers=strict.auth())
    _, other = await strict.runtime.integrations.add_key("app_demo", "second key")

    refused = await strict.client.get("/api/agent/v1/manifest", headers=strict.auth())
    admitted = await strict.client.get("/api/agent/v1/manifest", headers=strict.auth(other))

    assert (refused.status_code, admitted.status_code) == (429, 200)


async def test_an_unauthenticated_storm_is_refused_by_authentication_not_counted(strict: Limited) -> None:
    for _ in range(5):
        response = await strict.client.get("/api/agent/v1/manifest", headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401

    assert (await strict.client.get("/api/agent/v1/manifest", headers=strict.auth())).status_code == 200


async def test_a_tool_quota_refuses_before_the_backend(per_tool: Limited) -> None:
    path = "/api/agent/v1/transactions?ledgerId=ledger_main"
    first = await per_tool.client.get(path, headers=per_tool.auth())
    assert first.status_code == 200, first.text
    calls = dict(per_tool.calls)

    second = await per_tool.client.get(path, headers=per_tool.auth())
    ledgers = await per_tool.client.get("/api/agent/v1/ledgers", headers=per_tool.auth())

    assert second.status_code == 429
    assert second.json()["details"]["violatedPolicies"] == ["listings"]
    assert second.headers["RateLimit-Policy"] == '"listings";q=1;w=60'
    assert ledgers.status_code == 200
    assert per_tool.calls["transaction.list"] == calls["transaction.list"]
    assert per_tool.calls["transaction.list:lookup"] == calls["transaction.list:lookup"]


async def test_a_tool_quota_refuses_an_action_before_its_draft(per_tool: Limited) -> None:
    body = {"action": "transaction.create", "payload": create_payload()}
    first = await per_tool.client.post(ACTIONS, json=body, headers=per_tool.auth())
    assert first.status_code == 200, first.text
    rows, calls = await per_tool.rows(), dict(per_tool.calls)

    second = await per_tool.client.post(ACTIONS, json=body, headers=per_tool.auth())
    preflight = await per_tool.client.post(PREFLIGHT, json=body, headers=per_tool.auth())

    assert (second.status_code, preflight.status_code) == (429, 429)
    assert second.json()["details"]["violatedPolicies"] == ["creates"]
    after = await per_tool.rows()
    assert {table: after[table] for table in TABLES} == {table: rows[table] for table in TABLES}
    assert dict(per_tool.calls) == calls


async def test_an_approver_executes_a_draft_after_the_agent_ran_out(strict: Limited) -> None:
    created = await strict.client.post(
        ACTIONS, json={"action": "transaction.create", "payload": create_payload()}, headers=strict.auth()
    )
    draft_id = created.json()["data"]["draft"]["id"]
    for _ in range(2):
        await strict.client.get("/api/agent/v1/manifest", headers=strict.auth())
    assert (await strict.client.get("/api/agent/v1/manifest", headers=strict.auth())).status_code == 429
    approver = await _admin_token(strict.runtime, "approver", "alice")

    approved = await strict.client.post(
        f"{ADMIN}/drafts/{draft_id}/approve", json={"note": "ok"}, headers=strict.admin_auth(approver)
    )

    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["execution"]["status"] == "success"


def test_the_root_config_carries_the_reference_default() -> None:
    plan = compile_file(str(ROOT / "examples" / "ledger" / "gateway.yaml"))

    (rule,) = plan.rate_limits.request_rules
    assert (rule.id, rule.per, rule.item.amount, rule.window_s) == ("per-key-ip", ("key", "ip"), 240, 60)
    assert plan.rate_limits.storage_uri == "memory://"
    assert dt.timedelta(seconds=rule.window_s) == dt.timedelta(minutes=1)
