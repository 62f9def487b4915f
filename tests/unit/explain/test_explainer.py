"""``Explainer``: every pipeline step recorded, the engine's own decision at the end."""

from __future__ import annotations

import datetime as dt

import pytest

from opp.admission import Admission
from opp.auth.principal import Principal
from opp.auth.tokens import hash_token
from opp.explain import CallSpec, Explainer, ExplainError, Explanation, Step, Subject
from opp.integrations.service import NewApp

from .conftest import NOW, Setup

LIST_MAIN = CallSpec(tool="transaction.list", args={"ledgerId": "ledger_main"})


def step(explanation: Explanation, name: str) -> Step:
    return next(s for s in explanation.steps if s.name == name)


async def test_allowed_read_with_a_real_key_runs_every_step(setup: Setup) -> None:
    token = await setup.token()
    result = await setup.explainer.explain(Subject(token=token), LIST_MAIN)
    assert result.allowed and result.code == "common.success" and result.status == 200
    names = [s.name for s in result.steps]
    assert names == ["credential", "app", "network", "rate_limit", "scopes", "input", "tenant", "policy"]
    assert step(result, "credential").status == "passed"
    assert step(result, "credential").details["appId"] == "app_demo"
    assert step(result, "app").details["tenant"] == "org_demo"
    assert step(result, "input").details["args"] == {"ledgerId": "ledger_main", "page": 1, "pageSize": 50}
    assert step(result, "tenant").details["resourceTenant"] == "org_demo"
    rules = step(result, "policy").rules or []
    assert [(r.id, r.effect, r.result) for r in rules] == [
        ("inverted-range", "invalid", "false"),
        ("ledger-allowlist", "deny", "false"),
        ("max-days-window", "deny", "false"),
        ("max-days-open-start", "deny", "false"),
    ]


async def test_scope_denial_names_the_missing_scope(setup: Setup) -> None:
    result = await setup.explainer.explain(Subject(app_id="app_demo", scopes=("ledger.read",)), LIST_MAIN)
    assert not result.allowed and result.code == "agent.scope_denied" and result.status == 403
    scopes = step(result, "scopes")
    assert scopes.decisive and scopes.details["missingScopes"] == ["transaction.read"]
    assert all(not s.reached for s in result.steps[result.steps.index(scopes) + 1 :])
    assert result.matched_rules == []


async def test_policy_denial_reports_the_matched_rule(setup: Setup) -> None:
    subject = Subject(app_id="app_demo", policy_data={"allowed_ledger_ids": ["ledger_ops"]})
    result = await setup.explainer.explain(subject, LIST_MAIN)
    assert result.code == "agent.policy_denied"
    assert result.message == "Ledger is outside the app's allowed ledgers."
    assert result.matched_rules == ["ledger-allowlist"]
    policy = step(result, "policy")
    assert policy.decisive
    matched = [r for r in policy.rules or [] if r.matched]
    assert [(r.id, r.result) for r in matched] == [("ledger-allowlist", "true")]


async def test_invalid_rule_and_time_dependent_rule_results(setup: Setup) -> None:
    inverted = CallSpec(
        tool="transaction.list",
        args={"ledgerId": "ledger_main", "startDate": "2030-01-10", "endDate": "2030-01-01"},
    )
    result = await setup.explainer.explain(Subject(app_id="app_demo"), inverted)
    assert result.code == "agent.action_invalid" and result.matched_rules == ["inverted-range"]
    old = CallSpec(tool="transaction.list", args={"ledgerId": "ledger_main", "startDate": "2029-01-01"})
    result = await setup.explainer.explain(Subject(app_id="app_demo"), old)
    results = {r.id: r.result for r in step(result, "policy").rules or []}
    assert results["max-days-open-start"] == "true" and results["max-days-window"] == "false"
    assert result.message == "Date range exceeds the app's max_days window."


async def test_foreign_tenant_resource_is_denied_at_the_tenant_step(setup: Setup) -> None:
    call = CallSpec(tool="transaction.list", args={"ledgerId": "ledger_foreign"})
    result = await setup.explainer.explain(Subject(app_id="app_demo"), call)
    tenant = step(result, "tenant")
    assert tenant.decisive and result.code == "agent.policy_denied"
    assert tenant.details["found"] is True and tenant.details["resourceTenant"] == "org_other"
    missing = CallSpec(tool="transaction.list", args={"ledgerId": "ledger_nowhere"})
    result = await setup.explainer.explain(Subject(app_id="app_demo"), missing)
    assert step(result, "tenant").details["found"] is False
    assert result.message == "Resource is not accessible."


async def test_bad_args_fail_the_input_step_with_issues(setup: Setup) -> None:
    call = CallSpec(tool="transaction.list", args={"ledgerId": "", "pageSize": 900})
    result = await setup.explainer.explain(Subject(app_id="app_demo"), call)
    assert result.code == "common.validation" and result.status == 400
    issues = step(result, "input").details["issues"]
    assert len(issues) == 2, issues
    assert step(result, "tenant").status == "skipped" and step(result, "policy").status == "skipped"
    action = CallSpec(tool="transaction.create", args={"ledgerId": "ledger_main"})
    result = await setup.explainer.explain(Subject(app_id="app_demo"), action)
    assert result.code == "agent.action_invalid"


async def test_unknown_tool_is_a_usage_error(setup: Setup) -> None:
    with pytest.raises(ExplainError, match=r"unknown tool 'ledger\.lst'"):
        await setup.explainer.explain(Subject(app_id="app_demo"), CallSpec(tool="ledger.lst"))


async def test_revoked_expired_and_unknown_keys_fail_the_credential_step(setup: Setup) -> None:
    token = await setup.token()
    found = await setup.store.keys.find_by_hash(hash_token(token))
    assert found is not None
    await setup.store.keys.revoke(found[0].id, NOW)
    result = await setup.explainer.explain(Subject(token=token), LIST_MAIN)
    credential = step(result, "credential")
    assert result.code == "agent.token_invalid" and result.status == 401
    assert credential.summary == "Credential revoked." and credential.details["revokedAt"] == NOW
    assert [s.status for s in result.steps[1:]] == ["skipped"] * 7

    expiring = await setup.token(expires_at=NOW + dt.timedelta(minutes=5))
    setup.clock.advance(dt.timedelta(minutes=10))
    result = await setup.explainer.explain(Subject(token=expiring), LIST_MAIN)
    assert result.code == "agent.token_expired"

    unknown = "op_" + "A" * 43
    result = await setup.explainer.explain(Subject(token=unknown), LIST_MAIN)
    assert result.code == "agent.token_invalid"
    assert step(result, "credential").details == {"found": False}


async def test_network_allowlist_and_revoked_app(setup: Setup) -> None:
    await setup.integrations.create_app(
        NewApp(
            name="locked",
            scope="workspace",
            org_id="org_demo",
            scopes=["ledger.read"],
            policy={"network": {"allowed_ips": ["10.0.0.0/8"]}},
            app_id="app_locked",
        )
    )
    call = CallSpec(tool="ledger.list", ip="192.168.1.1")
    result = await setup.explainer.explain(Subject(app_id="app_locked"), call)
    assert step(result, "network").decisive and result.code == "agent.policy_denied"
    inside = CallSpec(tool="ledger.list", ip="10.1.2.3")
    assert (await setup.explainer.explain(Subject(app_id="app_locked"), inside)).allowed
    await setup.integrations.revoke_app("app_locked")
    result = await setup.explainer.explain(Subject(app_id="app_locked"), inside)
    assert result.code == "agent.token_invalid" and step(result, "app").decisive


async def test_hypothetical_caller_and_action_needs_an_allow(setup: Setup) -> None:
    create = CallSpec(
        tool="transaction.create",
        args={
            "ledgerId": "ledger_main",
            "kind": "income",
            "amount": 5,
            "title": "t",
            "occurredOn": "2030-01-01",
        },
    )
    personal = Subject(scopes=("transaction.write",))
    result = await setup.explainer.explain(personal, create)
    assert result.code == "agent.policy_denied"  # personal caller: no tenant, no resource access
    workspace = Subject(scopes=("transaction.write",), tenant="org_demo")
    result = await setup.explainer.explain(workspace, create)
    assert result.allowed and result.matched_rules == ["allow-workspace-writes"]
    assert result.notes and "write lifecycle" in result.notes[0]
    assert step(result, "app").details["appId"] == "app_hypothetical"


async def test_rate_limit_state_is_read_from_the_counters(setup: Setup) -> None:
    admission = Admission(setup.plan.rate_limits)
    explainer = Explainer(setup.plan, setup.store, setup.clock, admission=admission)
    call = CallSpec(tool="ledger.list", ip="10.9.8.7")
    result = await explainer.explain(Subject(app_id="app_demo"), call)
    limit = step(result, "rate_limit")
    assert limit.status == "passed" and limit.details["rules"][0]["remaining"] == 240
    app = await setup.store.apps.get("app_demo")
    assert app is not None
    caller = Principal.of_app(app, None)
    for _ in range(240):
        await admission.check_request(caller, "10.9.8.7")
    result = await explainer.explain(Subject(app_id="app_demo"), call)
    limit = step(result, "rate_limit")
    assert limit.decisive and result.code == "agent.rate_limited" and result.status == 429
    assert limit.details["rules"][0]["id"] == "per-key-ip" and limit.details["rules"][0]["remaining"] == 0
    other_ip = await explainer.explain(
        Subject(app_id="app_demo"), CallSpec(tool="ledger.list", ip="10.0.0.1")
    )
    assert other_ip.allowed
