"""The Plan compiled from ``examples/ledger/gateway.yaml`` (opp's richer ledger demo)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opp.codes import ReasonCode
from opp.compile import compile_file
from opp.compile.plan import Plan
from opp.errors import ValidationFailed

from .conftest import TOKEN_A, base

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "ledger"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return compile_file(EXAMPLE / "gateway.yaml", environ={})


ACTIONS = [
    "transaction.create",
    "transaction.update",
    "transaction.delete",
    "transaction.hard_delete",
    "transactions.export_csv",
]


def test_tools_and_routes(plan: Plan) -> None:
    assert [tool.name for tool in plan.tools] == ["ledger.list", "transaction.list", *ACTIONS]
    assert [tool.name for tool in plan.tools if tool.writes] == ACTIONS
    routes = {(tool.http_method, tool.http_path) for tool in plan.tools}
    assert routes == {("GET", "/ledgers"), ("GET", "/transactions"), (None, None)}


def test_transaction_list_plan(plan: Plan) -> None:
    tool = plan.tools_by_name["transaction.list"]
    assert tool.required_scopes == frozenset({"transaction.read"})
    assert [rule.id for rule in tool.deny_rules] == [
        "ledger-allowlist",
        "max-days-window",
        "max-days-open-start",
    ]
    assert [rule.id for rule in tool.invalid_rules] == ["inverted-range"]
    assert tool.allow_rules == ()
    assert tool.deny_rules[0].message == "Ledger is outside the app's allowed ledgers."
    assert tool.resource is not None
    assert (tool.resource.type, tool.resource.id_arg, tool.resource.tenant_field) == (
        "ledger",
        "ledgerId",
        "org_id",
    )
    assert [r.paths for r in tool.redactions] == [(("items[]", "title"),), (("items[]", "notes"),)]
    assert tool.redactions[1].replacement is None
    assert tool.query_types == {
        "ledgerId": "string",
        "startDate": "string",
        "endDate": "string",
        "page": "integer",
        "pageSize": "integer",
    }
    assert tool.audit_action == "agent.transaction.list.read"
    assert tool.cel_tool == {"name": "transaction.list", "risk": "low", "kind": "read"}
    assert not tool.writes


def test_manifest_entry(plan: Plan) -> None:
    entry = plan.tools_by_name["ledger.list"].manifest_entry
    assert entry == {
        "name": "ledger.list",
        "description": "List ledgers in the current workspace.",
        "kind": "read",
        "requiredScopes": ["ledger.read"],
        "risk": "low",
        "requiresConfirmation": False,
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
        "http": {"method": "GET", "path": "/api/agent/v1/ledgers"},
    }


def test_ledger_list_filter_items(plan: Plan) -> None:
    tool = plan.tools_by_name["ledger.list"]
    assert tool.filter_items is not None
    assert tool.filter_items.path == "items"
    keep = tool.filter_items.keep
    assert keep.evaluate({"app": {"policy": {"allowed_ledger_ids": ["a"]}}, "item": {"id": "a"}})
    assert not keep.evaluate({"app": {"policy": {"allowed_ledger_ids": ["a"]}}, "item": {"id": "b"}})


def test_validate_input_fills_defaults(plan: Plan) -> None:
    validate = plan.tools_by_name["transaction.list"].validate_input
    assert validate({"ledgerId": "led_1"}) == {"ledgerId": "led_1", "page": 1, "pageSize": 50}


def test_validate_input_rejects_page_size_500(plan: Plan) -> None:
    validate = plan.tools_by_name["transaction.list"].validate_input
    with pytest.raises(ValidationFailed) as caught:
        validate({"ledgerId": "led_1", "pageSize": 500})
    assert caught.value.code is ReasonCode.VALIDATION
    assert [(i["code"], i["path"]) for i in caught.value.issues] == [("maximum", "pageSize")]


@pytest.mark.parametrize("bad_date", ["2024-02-30", "2024-1-01", "yesterday", "2024-01-01T00:00:00Z"])
def test_validate_input_rejects_bad_dates(plan: Plan, bad_date: str) -> None:
    validate = plan.tools_by_name["transaction.list"].validate_input
    with pytest.raises(ValidationFailed) as caught:
        validate({"ledgerId": "led_1", "startDate": bad_date})
    assert [(i["code"], i["path"]) for i in caught.value.issues] == [("format", "startDate")]


def test_validate_input_lists_every_issue(plan: Plan) -> None:
    validate = plan.tools_by_name["transaction.list"].validate_input
    with pytest.raises(ValidationFailed) as caught:
        validate({"pageSize": "ten", "page": 0, "color": "red"})
    assert [(i["code"], i["path"]) for i in caught.value.issues] == [
        ("additionalProperties", "color"),
        ("required", "ledgerId"),
        ("minimum", "page"),
        ("type", "pageSize"),
    ]


def test_plan_settings(plan: Plan) -> None:
    assert plan.source.endswith("gateway.yaml")
    assert plan.base_dir == str(EXAMPLE)
    assert plan.store_path == str(EXAMPLE / ".opp" / "opp.db")
    assert plan.request_timeout_s == 30.0
    assert plan.audit_flush_interval_s == 0.05
    assert plan.trusted_proxies == ()
    assert set(plan.runtimes) == {"demo"}
    assert "ledger.read" in plan.scopes
    assert plan.app_policy_defaults == {
        "allowed_ledger_ids": None,
        "max_days": 30,
        "allow_sensitive_fields": False,
        "max_export_rows": 1000,
    }
    assert plan.validate_app_policy({"max_days": 7}) == {
        "max_days": 7,
        "allowed_ledger_ids": None,
        "allow_sensitive_fields": False,
        "max_export_rows": 1000,
    }
    with pytest.raises(ValidationFailed):
        plan.validate_app_policy({"max_days": 0})


def test_memory_store_networks_and_admin_credentials(
    compile_config: Callable[[dict[str, Any]], Plan],
) -> None:
    document = base()
    document["gateway"] = {"trusted_proxies": ["10.0.0.1/8", "2001:db8::/32"], "request_timeout": "2m"}
    document["admin"] = {
        "credentials": [{"name": "ops", "roles": ["admin", "auditor"], "token_sha256": TOKEN_A}]
    }
    plan = compile_config(document)
    assert plan.store_path == ":memory:"
    assert [str(net) for net in plan.trusted_proxies] == ["10.0.0.0/8", "2001:db8::/32"]
    assert plan.request_timeout_s == 120.0
    assert plan.admin_credentials[TOKEN_A].roles == frozenset({"admin", "auditor"})
    assert [app.id for app in plan.declared_apps] == ["app_one"]


def test_action_tools_audit_and_allow_rules(compile_config: Callable[[dict[str, Any]], Plan]) -> None:
    document = base()
    document["policies"].append(
        {"id": "owner-only", "effect": "allow", "when": "principal.scopes.size() > 0"}
    )
    document["tools"][1].update(kind="action", http=None, output_schema={"type": "object"})
    document["tools"][1]["policies"] = ["owner-only", "small-pages"]
    tool = compile_config(document).tools_by_name["transaction.list"]
    assert tool.audit_action == "agent.action.execute"
    assert tool.writes
    assert [r.id for r in tool.allow_rules] == ["owner-only"]
    assert [r.id for r in tool.deny_rules] == ["small-pages"]
    assert tool.http_method is None
    assert "http" not in tool.manifest_entry
    assert tool.manifest_entry["outputSchema"] == {"type": "object"}
