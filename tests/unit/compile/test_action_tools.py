"""Action tools: impact, witness, approvals and csv compile into the plan, or fail with positions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opp.compile import compile_file
from opp.compile.plan import CsvPlan, Plan
from opp.config.diagnostics import Diagnostic
from opp.tools.api import CallContext, ToolCall
from opp.writes.impact import BackendImpact, DeclarativeImpact
from opp.writes.witness import BackendWitness, DeclarativeWitness

from .conftest import Edit, base

ROOT = Path(__file__).resolve().parents[3]
Diagnose = Callable[[Edit], list[Diagnostic]]
CONTEXT = CallContext(
    request_id="req_1",
    app_id="app_demo",
    key_id="key_1",
    actor_user_id="svc_org_demo",
    tenant="org_demo",
    app_policy={"max_export_rows": 1000, "max_days": 30},
    now=dt.datetime(2025, 3, 15, 12, tzinfo=dt.UTC),
)


def action(**overrides: Any) -> dict[str, Any]:
    """A valid high-risk action on the base config's ledger resource."""
    tool: dict[str, Any] = {
        "name": "ledger.close",
        "description": "Close a ledger.",
        "kind": "action",
        "risk": "high",
        "required_scopes": ["ledger.read"],
        "input_schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["ledgerId"],
            "properties": {"ledgerId": {"type": "string"}, "reason": {"type": "string"}},
        },
        "policies": ["writes"],
        "tenant_boundary": "resource",
        "resource": {"type": "ledger", "id_arg": "ledgerId"},
        "impact": {"summary": "Close {resource.id}: {args.reason}", "fields": {"ledgerId": "args.ledgerId"}},
        "witness": {"fields": ["id", "org_id"]},
        "backend": {"backend": "demo", "call": "delete_transaction"},
    }
    tool.update(overrides)
    return tool


def with_action(**overrides: Any) -> Edit:
    def edit(config: dict[str, Any]) -> None:
        config["policies"].append({"id": "writes", "effect": "allow", "when": "app.scope == 'workspace'"})
        config["tools"].append(action(**overrides))

    return edit


def codes(found: list[Diagnostic]) -> list[tuple[str, str, str | None]]:
    return [(d.code, d.message, d.hint) for d in found]


def test_action_parts_compile(compile_config: Callable[[dict[str, Any]], Plan]) -> None:
    document = base()
    with_action(approvals=2, csv={"columns": ["id", "name"]})(document)
    document["writes"] = {"preflight_ttl": "5m", "idempotency_wait": "250ms"}
    plan = compile_config(document)
    tool = plan.tools_by_name["ledger.close"]
    assert isinstance(tool.impact, DeclarativeImpact)
    assert isinstance(tool.witness, DeclarativeWitness)
    assert (tool.witness.resource_type, tool.witness.id_arg, tool.witness.fields) == (
        "ledger",
        "ledgerId",
        ("id", "org_id"),
    )
    assert tool.approvals == 2
    assert tool.csv == CsvPlan(path="items", columns=("id", "name"))
    assert (plan.writes.preflight_ttl_s, plan.writes.idempotency_wait_s, plan.writes.draft_ttl_s) == (
        300.0,
        0.25,
        86400.0,
    )


def test_backend_impact_and_witness(compile_config: Callable[[dict[str, Any]], Plan]) -> None:
    document = base()
    with_action(
        impact={"backend": {"backend": "demo", "call": "preview_export"}},
        witness={"backend": {"function": "opp.demo.ledger:get_transaction"}},
    )(document)
    tool = compile_config(document).tools_by_name["ledger.close"]
    assert isinstance(tool.impact, BackendImpact)
    assert tool.impact.tool == "ledger.close"
    assert isinstance(tool.witness, BackendWitness)


def test_high_risk_action_needs_an_impact(diagnostics: Diagnose) -> None:
    found = diagnostics(with_action(impact=None))
    assert codes(found) == [
        (
            "tool.impact_required",
            "high-risk action 'ledger.close' declares no impact",
            "add impact: {summary: ..., fields: {...}} or impact: {backend: {...}}",
        )
    ]


def test_medium_risk_action_may_omit_impact_and_witness(
    compile_config: Callable[[dict[str, Any]], Plan],
) -> None:
    document = base()
    with_action(risk="medium", impact=None, witness=None)(document)
    tool = compile_config(document).tools_by_name["ledger.close"]
    assert (tool.impact, tool.witness, tool.approvals, tool.csv) == (None, None, 1, None)


def test_impact_references_are_checked(diagnostics: Diagnose) -> None:
    impact = {
        "summary": "Close {resource.nam} {args.reson} {what}",
        "fields": {"a": "args.ledgerID", "b": "resource.org", "c": "ledgerId"},
    }
    found = diagnostics(with_action(impact=impact))
    assert [(d.code, d.hint) for d in found] == [
        ("tool.impact_unknown_field", "did you mean 'resource.id'?"),
        ("tool.impact_unknown_field", "did you mean 'args.reason'?"),
        (
            "tool.impact_unknown_field",
            "write args.NAME (an input property) or resource.FIELD (a declared resource field);"
            " write {{ and }} for literal braces",
        ),
        ("tool.impact_unknown_field", "did you mean 'args.ledgerId'?"),
        ("tool.impact_unknown_field", "did you mean 'resource.org_id'?"),
        (
            "tool.impact_unknown_field",
            "write args.NAME (an input property) or resource.FIELD (a declared resource field)",
        ),
    ]
    summary_cols = [d.col for d in found[:3]]
    assert summary_cols == sorted(summary_cols) and len(set(summary_cols)) == 3


def test_resource_references_need_a_resource(diagnostics: Diagnose) -> None:
    found = diagnostics(
        with_action(
            tenant_boundary="app",
            resource=None,
            impact={"fields": {"owner": "resource.org_id"}},
            witness={"fields": ["id"]},
        )
    )
    assert codes(found) == [
        (
            "tool.impact_unknown_field",
            "'resource.org_id' reads a resource but the tool has no resource",
            "add resource: {type: TYPE, id_arg: ARG} to the tool",
        ),
        (
            "tool.witness_needs_resource",
            "the witness of 'ledger.close' selects resource fields but the tool has no resource",
            "add resource: {type: TYPE, id_arg: ARG}, or compute the witness with backend: {...}",
        ),
    ]


def test_witness_fields_must_be_declared(diagnostics: Diagnose) -> None:
    found = diagnostics(with_action(witness={"fields": ["id", "orgid"]}))
    assert codes(found) == [
        (
            "tool.witness_unknown_field",
            "'orgid' is not a declared field of resource 'ledger'",
            "did you mean 'org_id'?",
        )
    ]


def test_undeclared_resource_type_is_reported_once(diagnostics: Diagnose) -> None:
    found = diagnostics(with_action(resource={"type": "ledgr", "id_arg": "ledgerId"}))
    assert [d.code for d in found] == ["resource.unknown_type"]


@pytest.mark.parametrize(
    ("part", "value", "code", "message"),
    [
        ("impact", {}, "tool.impact_invalid", "the impact of 'ledger.close' declares nothing"),
        (
            "impact",
            {"summary": "x", "backend": {"backend": "demo", "call": "preview_export"}},
            "tool.impact_invalid",
            "the impact of 'ledger.close' declares both a backend and summary/fields",
        ),
        ("witness", {}, "tool.witness_invalid", "the witness of 'ledger.close' declares nothing"),
        (
            "witness",
            {"fields": ["id"], "backend": {"backend": "demo", "call": "get_transaction"}},
            "tool.witness_invalid",
            "the witness of 'ledger.close' declares both a backend and fields",
        ),
        ("csv", {"columns": []}, "tool.csv_invalid", "csv declares no columns"),
        (
            "csv",
            {"path": "a[].b", "columns": ["id"]},
            "tool.csv_invalid",
            "csv path 'a[].b' is not a field path",
        ),
        ("csv", {"columns": ["id", "id"]}, "tool.csv_invalid", "csv column 'id' is listed twice"),
    ],
)
def test_malformed_parts(
    diagnostics: Diagnose, part: str, value: dict[str, Any], code: str, message: str
) -> None:
    found = diagnostics(with_action(**{part: value}))
    assert [(d.code, d.message) for d in found] == [(code, message)]


def test_impact_backend_is_resolved(diagnostics: Diagnose) -> None:
    found = diagnostics(with_action(impact={"backend": {"backend": "demo", "call": "preview_exprot"}}))
    assert [(d.code, d.hint) for d in found] == [
        ("backend.unknown_function", "did you mean 'preview_export'?")
    ]


def test_read_tools_refuse_action_options(diagnostics: Diagnose) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["tools"][1].update(
            requires_confirmation=True,
            impact={"summary": "x"},
            witness={"fields": ["id"]},
            approvals=3,
        )

    found = diagnostics(edit)
    assert [d.code for d in found] == ["tool.read_only_option"] * 4
    assert [d.message.split("'")[1] for d in found] == [
        "requires_confirmation",
        "impact",
        "witness",
        "approvals",
    ]


def test_action_tools_have_no_route(diagnostics: Diagnose) -> None:
    found = diagnostics(with_action(http={"method": "POST", "path": "/ledgers/close"}))
    assert codes(found) == [
        (
            "tool.action_route",
            "action tool 'ledger.close' declares an http route",
            "remove http; action tools are called through POST /api/agent/v1/preflight and /actions",
        )
    ]


async def test_demo_delete_impact_and_witness_from_the_live_resource(tmp_path: Path) -> None:
    text = (
        (ROOT / "examples" / "ledger" / "gateway.yaml")
        .read_text()
        .replace(
            "    module: opp.demo.ledger\n",
            "    module: opp.demo.ledger\n    options: {path: ':memory:', seed_date: '2025-03-15'}\n",
        )
    )
    (tmp_path / "gateway.yaml").write_text(text)
    plan = compile_file(tmp_path / "gateway.yaml", environ={})
    await plan.runtimes["demo"].start()
    try:
        tool = plan.tools_by_name["transaction.delete"]
        assert tool.resource is not None and tool.impact is not None and tool.witness is not None
        args = {"transactionId": "txn_2"}
        call = ToolCall(operation=tool.name, args=args, context=CONTEXT)
        resource = await tool.resource.lookup(
            ToolCall(operation="transaction", args={"id": "txn_2"}, context=CONTEXT)
        )
        assert resource["org_id"] == "org_demo"
        assert await tool.impact.compute(args, resource, call) == {
            "summary": "Delete transaction txn_2: expense of 80 USD on 2025-03-10",
            "transactionId": "txn_2",
            "ledgerId": "ledger_main",
            "kind": "expense",
            "amount": 80,
            "currency": "USD",
            "occurredOn": "2025-03-10",
        }
        witness = await tool.witness.compute(args, resource, call)
        assert witness == {
            "resource": "transaction",
            "id": "txn_2",
            "fields": {
                "ledgerId": "ledger_main",
                "kind": "expense",
                "amount": 80,
                "occurredOn": "2025-03-10",
                "updatedAt": "2025-03-15T00:00:00.000Z",
                "deletedAt": None,
            },
        }
        export = plan.tools_by_name["transactions.export_csv"]
        assert export.impact is not None and export.csv is not None
        export_args = {"ledgerId": "ledger_main", "startDate": "2025-03-01", "endDate": "2025-03-15"}
        preview = await export.impact.compute(
            export_args, None, ToolCall(operation=export.name, args=export_args, context=CONTEXT)
        )
        assert (preview["rows"], preview["startDate"], preview["endDate"]) == (2, "2025-03-01", "2025-03-15")
        assert export.csv.columns == ("id", "occurredOn", "kind", "amount", "currency", "title", "notes")
    finally:
        await plan.runtimes["demo"].close()
