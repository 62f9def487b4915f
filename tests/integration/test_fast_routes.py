"""The fast path for agent routes answers exactly what Litestar answers, request by request.

One runtime, one Litestar app, two ways in: :class:`FastRoutes` in front of it, and the app itself.
Every request goes to both with the same ``X-Request-Id``; status, headers and body must be equal
(for writes, once the ids each side minted for its own draft or preflight are set aside).
The requests the fast path serves are checked to have bypassed Litestar, the others to have
reached it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from opp.clock import FrozenClock, IdFactory
from opp.compile import compile_file
from opp.http.app import agent_plane, create_app
from opp.http.fast_routes import FastRoutes, fast_routes
from opp.http.runtime import Runtime
from opp.store.memory import MemoryStore
from tests.integration.conftest import ROOT
from tests.integration.live_gateway import serving

TIME_DERIVED = {"retry-after", "ratelimit"}
"""Headers computed from the wall clock at the moment of refusal (compared by presence only)."""


@dataclass
class Pair:
    fast: httpx.AsyncClient
    framework: httpx.AsyncClient
    reached_litestar: list[str]
    runtime: Runtime
    token: str


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    document = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    document["rate_limits"]["rules"].append(
        {"id": "lists", "per": ["key"], "tools": ["transaction.list"], "limit": "6/minute"}
    )
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    plan = compile_file(str(config))
    runtime = Runtime(plan, store=MemoryStore(), clock=FrozenClock(dt.datetime.now(dt.UTC)), ids=IdFactory())
    routes = agent_plane(plan, runtime)
    app = create_app(plan, runtime, routes)
    reached: list[str] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            reached.append(f"{scope['method']} {scope['path']}")
        await app(scope, receive, send)

    front = FastRoutes(app, routes)
    async with serving(front) as fast:  # type: ignore[arg-type]
        front.app = counting  # type: ignore[assignment]
        await runtime.integrations.bootstrap()
        _, token = await runtime.integrations.add_key("app_demo", "compare")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as framework:
            yield Pair(fast, framework, reached, runtime, token)


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {name: value for name, value in response.headers.items() if name not in TIME_DERIVED}
    assert {name for name in TIME_DERIVED if name in response.headers} in (set(), TIME_DERIVED)
    return response.status_code, headers, response.content


async def _both(pair: Pair, method: str, path: str, number: int, token: str | None) -> httpx.Response:
    headers = {"X-Request-Id": f"req-compare-{number}"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    fast = await pair.fast.request(method, path, headers=headers)
    framework = await pair.framework.request(method, path, headers=headers)
    assert _comparable(fast) == _comparable(framework), (method, path)
    return fast


TOKEN, BAD = "token", "opk_not-a-key"
FAST_SERVED = [
    ("GET", "/api/agent/v1/manifest", TOKEN, 200),
    ("GET", "/api/agent/v1/ledgers", TOKEN, 200),
    ("GET", "/api/agent/v1/ledgers", None, 401),
    ("GET", "/api/agent/v1/ledgers", BAD, 401),
    ("GET", "/api/agent/v1/ledgers?unexpected=1", TOKEN, 400),
    ("GET", "/api/agent/v1/ledgers?access_token=x", TOKEN, 401),
    ("GET", "/api/agent/v1/transactions?ledgerId=ledger_main", TOKEN, 200),
    ("GET", "/api/agent/v1/transactions?ledgerId=ledger_main&pageSize=nope", TOKEN, 400),
    ("GET", "/api/agent/v1/transactions?ledgerId=ledger_elsewhere", TOKEN, 403),
]
LITESTAR_SERVED = [
    ("HEAD", "/api/agent/v1/ledgers", 405),
    ("POST", "/api/agent/v1/ledgers", 405),
    ("DELETE", "/api/agent/v1/manifest", 405),
    ("GET", "/api/agent/v1/ledgers/", 200),  # the router's match, not an exact one
    ("GET", "/api/agent/v1/nothing-here", 404),
]


async def test_every_outcome_is_the_envelope_litestar_sends(pair: Pair) -> None:
    for number, (method, path, token, status) in enumerate(FAST_SERVED):
        response = await _both(pair, method, path, number, pair.token if token is TOKEN else token)
        assert response.status_code == status, (path, response.text)
    assert pair.reached_litestar == []  # all of them were answered without the framework


async def test_what_only_the_framework_answers_still_reaches_it(pair: Pair) -> None:
    for number, (method, path, status) in enumerate(LITESTAR_SERVED):
        response = await _both(pair, method, path, number, pair.token)
        assert response.status_code == status, (method, path, response.text)
    assert pair.reached_litestar == [f"{method} {path}" for method, path, _ in LITESTAR_SERVED]


async def test_a_rate_limit_refusal_is_the_same(pair: Pair) -> None:
    path = "/api/agent/v1/transactions?ledgerId=ledger_main"
    statuses = [(await _both(pair, "GET", path, number, pair.token)).status_code for number in range(4)]

    assert statuses == [200, 200, 200, 429]  # three each, from the one quota of 6
    refused = await pair.fast.get(path, headers={"Authorization": f"Bearer {pair.token}"})
    assert refused.json()["code"] == "agent.rate_limited"
    assert refused.headers["Retry-After"]


async def test_an_unexpected_failure_is_the_same_500(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("backend exploded")

    monkeypatch.setattr(pair.runtime.engine, "read", broken)

    response = await _both(pair, "GET", "/api/agent/v1/ledgers", 1, pair.token)

    assert response.status_code == 500
    assert response.json() == {"ok": False, "code": "common.internal_error", "message": "Internal error."}
    assert "exploded" not in response.text


_MINTED = re.compile(rb"\b(drf|pfl|exe|evt)_[0-9a-f]{8,}")
"""Ids each side mints for its own write (the rest of the answer must be identical)."""

WRITE = {
    "action": "transaction.create",
    "payload": {
        "ledgerId": "ledger_main",
        "kind": "expense",
        "amount": 3.5,
        "title": "t",
        "occurredOn": "2026-01-02",
    },
}
PREFLIGHT = {"action": "transaction.delete", "payload": {"transactionId": "txn_2"}}
JSON_TYPE = {"Content-Type": "application/json"}
FAST_WRITES: list[tuple[str, bytes, dict[str, str], str | None, int]] = [
    ("/api/agent/v1/preflight", json.dumps(PREFLIGHT).encode(), JSON_TYPE, TOKEN, 200),
    ("/api/agent/v1/actions", json.dumps(WRITE).encode(), JSON_TYPE, TOKEN, 200),
    (
        "/api/agent/v1/actions",
        json.dumps(WRITE).encode(),
        {**JSON_TYPE, "Idempotency-Key": " {side} "},
        TOKEN,
        200,
    ),
    ("/api/agent/v1/actions", json.dumps(WRITE).encode(), JSON_TYPE, None, 401),
    ("/api/agent/v1/actions", b"{not json", JSON_TYPE, BAD, 401),  # the credential before the body
    ("/api/agent/v1/actions", b"{not json", JSON_TYPE, TOKEN, 400),
    ("/api/agent/v1/actions", json.dumps(WRITE).encode(), {"Content-Type": "text/plain"}, TOKEN, 415),
    ("/api/agent/v1/actions", b"[1, 2]", JSON_TYPE, TOKEN, 400),
    ("/api/agent/v1/actions", b"[" * 100 + b"]" * 100, JSON_TYPE, TOKEN, 400),
    ("/api/agent/v1/actions", b'{"action": "nope.none", "payload": {}}', JSON_TYPE, TOKEN, 400),
    ("/api/agent/v1/preflight", b'{"action": 3}', JSON_TYPE, TOKEN, 400),
    ("/api/agent/v1/preflight", b"", JSON_TYPE, TOKEN, 400),
    ("/api/agent/v1/actions", b'{"padding": "' + b"x" * 2_000_000 + b'"}', JSON_TYPE, TOKEN, 413),
]


async def test_every_write_outcome_is_the_envelope_litestar_sends(pair: Pair) -> None:
    for number, (path, body, extra, token, status) in enumerate(FAST_WRITES):
        headers = {"X-Request-Id": f"req-write-{number}", **extra}
        if token is not None:
            headers["Authorization"] = f"Bearer {pair.token if token is TOKEN else token}"
        answers = []
        for side, client in (("key-fast", pair.fast), ("key-frame", pair.framework)):
            sent = {name: value.replace("{side}", side) for name, value in headers.items()}
            status_, headers_, body_ = _comparable(await client.post(path, content=body, headers=sent))
            answers.append((status_, headers_, _MINTED.sub(b"id", body_).replace(side.encode(), b"key")))
        assert answers[0] == answers[1], (path, body[:60])
        assert answers[0][0] == status, (path, body[:60], answers[0][2][:300])
    assert pair.reached_litestar == []


async def test_the_idempotency_key_header_is_read_trimmed_and_replayed(pair: Pair) -> None:
    headers = {"Authorization": f"Bearer {pair.token}", "Idempotency-Key": "  first  ", **JSON_TYPE}
    body = json.dumps(WRITE).encode()
    created = (await pair.fast.post("/api/agent/v1/actions", content=body, headers=headers)).json()
    headers["Idempotency-Key"] = "first"
    replayed = (await pair.fast.post("/api/agent/v1/actions", content=body, headers=headers)).json()
    assert (replayed["data"]["replayed"], replayed["data"]["code"]) == (True, "agent.idempotency_replay")
    assert replayed["data"]["draft"]["id"] == created["data"]["draft"]["id"]


def test_cors_leaves_every_request_to_the_framework(tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text())
    document["gateway"]["cors_origins"] = ["https://agent.example"]
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    plan = compile_file(str(config))
    runtime = Runtime(plan, store=MemoryStore())
    routes = agent_plane(plan, runtime)
    app = create_app(plan, runtime, routes)

    assert fast_routes(app, routes) is app
