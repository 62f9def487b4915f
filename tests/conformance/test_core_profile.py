"""The reference core profile, run by ``opp.conformance`` against a real ``opp serve`` (2 workers)."""

from __future__ import annotations

import json

import pytest

from opp.conformance import CheckResult, run_core_profile
from tests.conformance.reference import PROFILE_PATH, core_profile
from tests.support.servers import RunningServer, run_cli

READ_ENDPOINTS = (
    "endpoint:GET /api/agent/v1/manifest",
    "endpoint:GET /api/agent/v1/ledgers",
    "endpoint:GET /api/agent/v1/transactions",
)
WRITE_ENDPOINTS = (
    "endpoint:POST /api/agent/v1/preflight",
    "endpoint:POST /api/agent/v1/actions",
    "endpoint:GET /api/agent/v1/drafts/{id}",
)
SECURITY = ("security:unauthenticated-401", "security:authenticated-200", "security:policy-boundary")
ENVELOPE = ("envelope:success", "envelope:error")
WRITES = ("writes:preflight-impact-hash", "writes:draft-created", "writes:draft-readable")


@pytest.fixture(scope="module")
def results(demo_server: RunningServer) -> dict[str, CheckResult]:
    checks = run_core_profile(demo_server.base_url, demo_server.token(), core_profile())
    by_id = {check.id: check for check in checks}
    assert len(by_id) == len(checks), "check ids must be unique"
    return by_id


def test_every_profile_requirement_is_reported(results: dict[str, CheckResult]) -> None:
    assert set(results) == {*READ_ENDPOINTS, *WRITE_ENDPOINTS, *SECURITY, *ENVELOPE, *WRITES}
    assert all(check.description and check.detail for check in results.values())


@pytest.mark.parametrize("check_id", READ_ENDPOINTS + WRITE_ENDPOINTS + SECURITY + ENVELOPE + WRITES)
def test_implemented_requirements_pass(results: dict[str, CheckResult], check_id: str) -> None:
    assert results[check_id].passed, results[check_id].line()


def test_boundary_detail_names_the_identical_denial(results: dict[str, CheckResult]) -> None:
    detail = results["security:policy-boundary"].detail
    assert "ledger_foreign" in detail and "agent.policy_denied" in detail and "identical" in detail


def test_an_unknown_token_fails_the_authenticated_checks(demo_server: RunningServer) -> None:
    checks = {c.id: c for c in run_core_profile(demo_server.base_url, "op_not-a-real-token", core_profile())}
    assert not checks["security:authenticated-200"].passed
    assert "agent.token_invalid" in checks["security:authenticated-200"].detail
    assert not checks["security:policy-boundary"].passed
    assert checks["security:unauthenticated-401"].passed


def test_cli_prints_one_line_per_check_and_exits_0(demo_server: RunningServer) -> None:
    core_profile()  # skips when the reference profile is absent (fails under OPP_REQUIRE_INTEROP=1)
    result = run_cli(
        "conformance",
        "--base-url",
        demo_server.base_url,
        "--token",
        demo_server.token(),
        "--profile",
        str(PROFILE_PATH),
        cwd=demo_server.config.parent,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout
    assert len(lines) == 14 and all(line.startswith("PASS ") for line in lines)
    assert "PASS endpoint:GET /api/agent/v1/manifest: HTTP 200 common.success" in lines
    assert "14 checks, 0 failed" in result.stderr


def test_cli_json_format(demo_server: RunningServer) -> None:
    core_profile()  # skips when the reference profile is absent (fails under OPP_REQUIRE_INTEROP=1)
    result = run_cli(
        "conformance",
        "--base-url",
        demo_server.base_url,
        "--token",
        demo_server.token(),
        "--profile",
        str(PROFILE_PATH),
        "--format",
        "json",
        cwd=demo_server.config.parent,
    )
    document = json.loads(result.stdout)
    assert result.returncode == 0
    assert document["profile"] == "openport-v1-core" and document["passed"] is True
    assert {check["id"] for check in document["checks"]} >= set(READ_ENDPOINTS + SECURITY)
    assert set(document["checks"][0]) == {"id", "description", "passed", "detail"}


def test_cli_reports_an_unreadable_profile(demo_server: RunningServer) -> None:
    missing = demo_server.config.parent / "no-such-profile.json"
    result = run_cli(
        "conformance",
        "--base-url",
        demo_server.base_url,
        "--token",
        "op_x",
        "--profile",
        str(missing),
        cwd=demo_server.config.parent,
    )
    assert result.returncode == 2
    assert "cannot read profile" in result.stderr and "Traceback" not in result.stderr
