"""Environments built from the root gateway.yaml (the ledger demo) and a helper to compile rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from opp.policy import CheckIssue, PolicyEnvironment, Program, build_environment, compile_rule

GATEWAY_YAML = Path(__file__).resolve().parents[3] / "examples" / "ledger" / "gateway.yaml"
NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def gateway() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(GATEWAY_YAML.read_text())
    return loaded


@pytest.fixture(scope="session")
def rules(gateway: dict[str, Any]) -> dict[str, str]:
    return {rule["id"]: rule["when"] for rule in gateway["policies"]}


def _tool(gateway: dict[str, Any], name: str) -> dict[str, Any]:
    return next(tool for tool in gateway["tools"] if tool["name"] == name)


@pytest.fixture(scope="session")
def transaction_env(gateway: dict[str, Any]) -> PolicyEnvironment:
    """What the policies of transaction.list see (args, app, resource: ledger, …)."""
    return build_environment(
        app_policy_schema=gateway["app_policy_schema"],
        input_schema=_tool(gateway, "transaction.list")["input_schema"],
        resource_fields=gateway["resources"]["ledger"]["fields"],
    )


@pytest.fixture(scope="session")
def ledger_list_env(gateway: dict[str, Any]) -> PolicyEnvironment:
    """What ledger.list's filter_items rule sees (item, no resource)."""
    return build_environment(
        app_policy_schema=gateway["app_policy_schema"],
        input_schema=_tool(gateway, "ledger.list")["input_schema"],
        item=True,
    )


def tool_environment(gateway: dict[str, Any], tool: dict[str, Any]) -> PolicyEnvironment:
    """The environment a tool's policies see (its args, and its resource's fields if any)."""
    resource = tool.get("resource")
    return build_environment(
        app_policy_schema=gateway["app_policy_schema"],
        input_schema=tool["input_schema"],
        resource_fields=gateway["resources"][resource["type"]]["fields"] if resource else None,
    )


@pytest.fixture(scope="session")
def rule_sites(gateway: dict[str, Any]) -> dict[str, tuple[str, PolicyEnvironment]]:
    """Each demo policy with the environment of the first tool that lists it."""
    sources = {rule["id"]: rule["when"] for rule in gateway["policies"]}
    sites: dict[str, tuple[str, PolicyEnvironment]] = {}
    for tool in gateway["tools"]:
        for name in tool.get("policies") or ():
            sites.setdefault(name, (sources[name], tool_environment(gateway, tool)))
    return sites


def compiled(source: str, env: PolicyEnvironment) -> Program:
    program, issues = compile_rule(source, env)
    assert issues == [], issues
    assert program is not None
    return program


def issues_of(source: str, env: PolicyEnvironment) -> list[CheckIssue]:
    program, issues = compile_rule(source, env)
    assert program is None
    assert issues
    return issues


def activation(
    *,
    args: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    now: dt.datetime = NOW,
    **extra: Any,
) -> dict[str, Any]:
    """A full activation for the demo app; ``policy`` overrides the app_policy_schema defaults."""
    app_policy = {"allowed_ledger_ids": None, "max_days": 30, "allow_sensitive_fields": False}
    return {
        "principal": {
            "sub": "svc_org_demo",
            "client_id": "app_demo",
            "app_id": "app_demo",
            "key_id": "key_1",
            "scopes": ["transaction.read"],
            "tenant": "org_demo",
            "claims": {},
            "roles": [],
        },
        "app": {
            "id": "app_demo",
            "name": "Demo",
            "scope": "workspace",
            "tenant": "org_demo",
            "policy": app_policy | (policy or {}),
        },
        "tool": {"name": "transaction.list", "risk": "low", "kind": "read"},
        "request": {
            "ip": "127.0.0.1",
            "method": "GET",
            "path": "/transactions",
            "time": now,
            "user_agent": "t",
        },
        "args": {"ledgerId": "led_1", "page": 1, "pageSize": 50} | (args or {}),
        "resource": {"id": "led_1", "org_id": "org_demo", "name": "Main", "currency": "EUR"},
    } | extra
