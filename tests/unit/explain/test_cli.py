"""``opp explain`` end to end: the configured SQLite store, a real key, text and JSON output, exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from opp.cli.common import load_plan_or_report
from opp.cli.main import main
from opp.http.runtime import Runtime


def explain(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def token(config_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["token", str(config_path)]) == 0
    return capsys.readouterr().out.strip()


def test_allowed_read_prints_every_step_and_exits_0(
    config_path: Path, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--tool", "transaction.list", "--args", '{"ledgerId": "ledger_main"}', "--ip", "127.0.0.1"]
    code, out, _ = explain(capsys, str(config_path), "--token", token, *args)
    assert code == 0, out
    for line in ("1. credential pass", "4. rate_limit", "7. tenant     pass", "8. policy     pass"):
        assert line in out
    assert "deny    ledger-allowlist     false" in out
    assert "when: app.policy.allowed_ledger_ids != null" in out
    assert out.rstrip().splitlines()[-1] == "decision: ALLOWED common.success (HTTP 200): Allowed."


def test_policy_denial_json_names_the_rule_and_exits_1(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = explain(
        capsys,
        str(config_path),
        "--app",
        "app_demo",
        "--policy-data",
        '{"allowed_ledger_ids": ["ledger_ops"]}',
        "--tool",
        "transaction.list",
        "--args",
        '{"ledgerId": "ledger_main"}',
        "--format",
        "json",
    )
    assert code == 1
    document = json.loads(out)
    assert document["allowed"] is False and document["code"] == "agent.policy_denied"
    assert document["matched_rules"] == ["ledger-allowlist"]
    policy = next(step for step in document["steps"] if step["name"] == "policy")
    assert policy["decisive"] is True
    assert {rule["id"]: rule["result"] for rule in policy["rules"]}["ledger-allowlist"] == "true"


def test_scope_denial_text(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    caller = ["--app", "app_demo", "--scopes", "ledger.read"]
    call = ["--tool", "transaction.list", "--args", '{"ledgerId": "ledger_main"}']
    code, out, _ = explain(capsys, str(config_path), *caller, *call)
    assert code == 1
    assert "5. scopes     FAIL agent.scope_denied: Missing scope." in out
    assert 'missingScopes: ["transaction.read"]' in out
    assert "decision: DENIED agent.scope_denied (HTTP 403)" in out


def test_revoked_key_is_denied(config_path: Path, token: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The app is revoked in the store (the kill switch revokes its keys too).
    plan = load_plan_or_report(str(config_path))
    assert plan is not None

    async def revoke() -> None:
        runtime = Runtime(plan)
        await runtime.store.open()
        try:
            await runtime.integrations.revoke_app("app_demo")
        finally:
            await runtime.store.close()

    asyncio.run(revoke())
    code, out, _ = explain(capsys, str(config_path), "--token", token, "--tool", "ledger.list")
    assert code == 1
    assert "1. credential FAIL agent.token_invalid: Credential revoked." in out
    assert "(HTTP 401)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tool", "ledger.lst"], "unknown tool 'ledger.lst'"),
        (["--tool", "ledger.list", "--args", "{not json"], "--args: not valid JSON"),
        (["--tool", "ledger.list", "--args", "[1, 2]"], "--args: expected a JSON object"),
        (["--tool", "ledger.list", "--app", "app_nowhere"], "app 'app_nowhere' is neither in the store"),
        (["--tool", "ledger.list", "--at", "yesterday"], "--at: not an RFC 3339 time"),
        (["--tool", "ledger.list", "--at", "9999-12-31T23:59:59-23:59"], "--at: not an RFC 3339 time"),
        (["--tool", "ledger.list", "--app", "app_demo", "--token", "op_x"], "give --token or --app"),
    ],
)
def test_usage_errors_exit_2(
    config_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = explain(capsys, str(config_path), *argv)
    assert code == 2 and out == ""
    assert message in err


def test_bad_args_are_a_validation_denial(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = explain(
        capsys, str(config_path), "--app", "app_demo", "--tool", "transaction.list", "--args", '{"page": 0}'
    )
    assert code == 1
    assert "6. input      FAIL common.validation:" in out
    assert "7. tenant     skip (not reached) Needs valid input." in out


def test_broken_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\ntools: 3\n")
    code, _, err = explain(capsys, str(broken), "--tool", "ledger.list")
    assert code == 2 and "error" in err
