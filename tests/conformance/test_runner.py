"""The runner judges what it sees: fed a non-conforming gateway (an httpx mock), its checks fail."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from opp.conformance import BoundaryProbe, CheckResult, ProfileError, load_profile, run_core_profile

PROFILE: dict[str, Any] = {
    "id": "test-profile",
    "requiredEndpoints": [
        {"method": "GET", "path": "/api/agent/v1/manifest"},
        {"method": "GET", "path": "/api/agent/v1/drafts/{id}"},
    ],
    "envelope": {
        "success": {"ok": True, "requiredFields": ["ok", "code", "data"]},
        "error": {"ok": False, "requiredFields": ["ok", "code", "message"]},
    },
    "securityMinimums": [
        "unauthenticated manifest request returns 401",
        "authenticated manifest request returns 200",
        "agent token can access only within granted policy boundaries",
    ],
}
TOKEN = "op_good"


def _error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"ok": False, "code": code, "message": "no"})


def _success(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "code": "common.success", "data": data})


def _conforming(request: httpx.Request) -> httpx.Response:
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return _error(401, "agent.token_invalid")
    path = request.url.path
    if path == "/api/agent/v1/manifest":
        return httpx.Response(200, json={"ok": True, "code": "common.success", "data": {"tools": []}})
    if path == "/api/agent/v1/drafts/drf_probe":
        return _success({"draft": {"id": "drf_probe", "status": "draft"}, "execution": None})
    if path.startswith("/api/agent/v1/drafts/"):
        return _error(404, "agent.draft_not_found")
    if path == "/api/agent/v1/preflight":
        return _success({"action": "transaction.delete", "impactHash": "ab" * 32, "preflightId": "pfl_1"})
    if path == "/api/agent/v1/actions":
        return _success({"status": "draft", "draft": {"id": "drf_probe"}, "autoExecuteDeniedCode": None})
    if path == "/api/agent/v1/ledgers":
        items = [{"id": "ledger_main"}]
        return httpx.Response(200, json={"ok": True, "code": "common.success", "data": {"items": items}})
    if path == "/api/agent/v1/transactions":
        return _error(403, "agent.policy_denied")
    return _error(404, "common.not_found")


def _run(handler: Callable[[httpx.Request], httpx.Response]) -> dict[str, CheckResult]:
    results = run_core_profile("http://gateway.test", TOKEN, PROFILE, transport=httpx.MockTransport(handler))
    return {result.id: result for result in results}


def test_a_conforming_gateway_passes_every_check() -> None:
    results = _run(_conforming)
    assert all(r.passed for r in results.values()), [r.line() for r in results.values() if not r.passed]
    assert "domain answer" in results["endpoint:GET /api/agent/v1/drafts/{id}"].detail


def test_write_checks_fail_without_an_impact_hash_or_a_draft() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/api/agent/v1/preflight", "/api/agent/v1/actions"):
            return _success({"status": "executed"})
        return _conforming(request)

    results = _run(handler)
    assert not results["writes:preflight-impact-hash"].passed
    assert not results["writes:draft-created"].passed and not results["writes:draft-readable"].passed


def test_a_route_404_and_a_405_fail_the_endpoint_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/agent/v1/drafts/"):
            return _error(404, "common.not_found")
        if request.url.path == "/api/agent/v1/manifest":
            return _error(405, "common.method_not_allowed")
        return _conforming(request)

    results = _run(handler)
    assert not results["endpoint:GET /api/agent/v1/drafts/{id}"].passed
    assert not results["endpoint:GET /api/agent/v1/manifest"].passed
    assert "405" in results["endpoint:GET /api/agent/v1/manifest"].detail


def test_a_server_error_fails_the_endpoint_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/agent/v1/drafts/"):
            return _error(500, "common.internal_error")
        return _conforming(request)

    assert not _run(handler)["endpoint:GET /api/agent/v1/drafts/{id}"].passed


def test_malformed_envelopes_fail_the_envelope_checks() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") is None:
            return httpx.Response(401, text="Unauthorized")
        if request.url.path == "/api/agent/v1/manifest":
            return httpx.Response(200, json={"ok": True, "data": {}})
        return _conforming(request)

    results = _run(handler)
    assert not results["envelope:success"].passed and "missing code" in results["envelope:success"].detail
    assert not results["envelope:error"].passed and "not JSON" in results["envelope:error"].detail
    assert results["security:unauthenticated-401"].passed


def test_an_error_answered_with_ok_true_fails() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") is None:
            return httpx.Response(401, json={"ok": True, "code": "agent.token_invalid", "message": "x"})
        return _conforming(request)

    assert "ok is True" in _run(handler)["envelope:error"].detail


def test_an_existence_oracle_fails_the_boundary_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if (
            request.url.path == "/api/agent/v1/transactions"
            and request.url.params["ledgerId"] != "ledger_foreign"
        ):
            return _error(403, "agent.not_found")
        return _conforming(request)

    result = _run(handler)["security:policy-boundary"]
    assert not result.passed and "existence oracle" in result.detail


def test_a_foreign_ledger_that_is_served_fails_the_boundary_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/agent/v1/transactions":
            return httpx.Response(200, json={"ok": True, "code": "common.success", "data": {"items": []}})
        return _conforming(request)

    assert not _run(handler)["security:policy-boundary"].passed


def test_a_listed_foreign_ledger_fails_the_boundary_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/agent/v1/ledgers":
            data = {"items": [{"id": "ledger_other_tenant"}]}
            return httpx.Response(200, json={"ok": True, "code": "common.success", "data": data})
        return _conforming(request)

    results = run_core_profile(
        "http://gateway.test",
        TOKEN,
        PROFILE,
        transport=httpx.MockTransport(handler),
        boundary=BoundaryProbe(foreign_ledger_id="ledger_other_tenant"),
    )
    boundary = {r.id: r for r in results}["security:policy-boundary"]
    assert not boundary.passed and "appears in the token's ledger list" in boundary.detail


def test_an_unreachable_gateway_fails_every_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    results = _run(handler)
    assert not any(r.passed for r in results.values())
    assert "ConnectError" in results["endpoint:GET /api/agent/v1/manifest"].detail


def test_an_unknown_security_minimum_is_a_failure_not_a_skip() -> None:
    profile = {**PROFILE, "securityMinimums": ["tokens are rotated hourly"]}
    results = run_core_profile(
        "http://gateway.test", TOKEN, profile, transport=httpx.MockTransport(_conforming)
    )
    unknown = [r for r in results if r.id.startswith("security:")]
    assert [(r.id, r.passed) for r in unknown] == [("security:tokens-are-rotated-hourly", False)]


def test_load_profile_rejects_incomplete_profiles(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({"requiredEndpoints": [], "envelope": {"success": {}}}))
    with pytest.raises(ProfileError, match=r"securityMinimums, envelope\.error"):
        load_profile(path)
    path.write_text("{not json")
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(path)
    path.write_text(json.dumps(PROFILE))
    assert load_profile(path) == PROFILE
