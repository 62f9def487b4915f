"""Every semantic diagnostic code of the compile phase, with its position and hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from opp.compile.plan import Plan
from opp.config.diagnostics import Diagnostic

from .conftest import TOKEN_A, TOKEN_B, Edit, base

Diagnose = Callable[[Edit], list[Diagnostic]]


def one(diagnose: Diagnose, edit: Edit) -> Diagnostic:
    found = diagnose(edit)
    assert len(found) == 1, [d.format() for d in found]
    return found[0]


def test_the_base_config_compiles(compile_config: Callable[[dict[str, Any]], Plan]) -> None:
    document = base()
    plan = compile_config(document)
    assert sorted(tool.name for tool in plan.tools) == sorted(tool["name"] for tool in document["tools"])


def test_unknown_tool_scope_with_did_you_mean(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][0].update(required_scopes=["ledger.raed"]))
    assert (d.code, d.message, d.hint) == (
        "scope.unknown",
        "scope 'ledger.raed' is not declared",
        "did you mean 'ledger.read'?",
    )


def test_unknown_app_and_bootstrap_scopes(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["apps"][0]["scopes"] = ["ledger.read", "ledger.write"]
        c["bootstrap"] = {"bootstrap_app": {"id": "app_boot", "name": "B", "org_id": "o", "scopes": ["nope"]}}

    found = diagnostics(edit)
    assert [d.code for d in found] == ["scope.unknown", "scope.unknown"]
    assert found[1].hint == "declare it under scopes: with a description"


def test_unknown_policy_reference(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][1].update(policies=["smal-pages"]))
    assert (d.code, d.hint) == ("policy.unknown_reference", "did you mean 'small-pages'?")


def test_duplicate_policy_id(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["policies"].append({"id": "small-pages", "when": "true"}))
    assert d.code == "policy.duplicate"
    assert d.hint is not None and d.hint.startswith("first declared at line")


@pytest.mark.parametrize(
    ("when", "code", "col"),
    [
        ("args.pageSize >", "policy.syntax_error", 16),
        ("user.id == 'x'", "policy.undeclared_variable", 1),
        ("args.pageSise > 100", "policy.unknown_field", 6),
        ("args.pageSize", "policy.not_boolean", 1),
        ("args.ledgerId + 1 == 2", "policy.type_mismatch", 15),
        ("frobnicate(args.ledgerId)", "policy.unknown_function", 1),
    ],
)
def test_cel_issues_are_positioned_inside_the_scalar(
    diagnostics: Diagnose, compile_config: Callable[[dict[str, Any]], object], when: str, code: str, col: int
) -> None:
    d = one(diagnostics, lambda c: c["policies"][0].update(when=when))
    assert d.code == code
    # yaml.safe_dump writes the rule as "- id: small-pages\n  effect: deny\n  when: <expr>" (plain style)
    assert d.col == len("  when: ") + col


def test_policy_shared_by_two_tools_reports_an_identical_issue_once(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["policies"][0]["when"] = "request.time >"
        c["tools"][0]["policies"] = ["small-pages"]

    assert [d.code for d in diagnostics(edit)] == ["policy.syntax_error"]


def test_policy_is_checked_against_each_tool_that_uses_it(diagnostics: Diagnose) -> None:
    # ledger.list has no pageSize argument: the rule is wrong for that tool only.
    d = one(diagnostics, lambda c: c["tools"][0].update(policies=["small-pages"]))
    assert d.code == "policy.unknown_field"


def test_unused_policy_is_syntax_checked(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["policies"].append({"id": "orphan", "when": "args.x =="}))
    assert d.code == "policy.syntax_error"


def test_filter_items_sees_item_and_redact_unless_is_checked(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["tools"][0]["filter_items"] = {"keep": "item.id != '' && app.policy.max_dayz > 1"}
        c["tools"][1]["redact"] = [{"fields": ["items[].title"], "unless": "app.policy.max_days"}]

    found = diagnostics(edit)
    assert [d.code for d in found] == ["policy.unknown_field", "policy.not_boolean"]
    assert found[0].hint == "did you mean 'max_days'?"


def test_duplicate_tool(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["tools"][1]["name"] = "ledger.list"

    d = one(diagnostics, edit)
    assert d.code == "tool.duplicate"
    assert d.hint is not None and "first declared at line" in d.hint


@pytest.mark.parametrize(
    ("method", "path", "hint_part"),
    [
        ("GET", "/ledgers", "the tool at line"),
        ("GET", "/manifest", "the agent API itself"),
        ("GET", "/drafts/{draftId}", "the agent API itself"),
        ("GET", "/ledgers/", "the tool at line"),
    ],
)
def test_route_collision(diagnostics: Diagnose, method: str, path: str, hint_part: str) -> None:
    d = one(diagnostics, lambda c: c["tools"][1].update(http={"method": method, "path": path}))
    assert d.code == "route.collision"
    assert d.hint is not None and hint_part in d.hint


def test_action_tool_may_not_declare_a_route(diagnostics: Diagnose) -> None:
    d = one(
        diagnostics,
        lambda c: c["tools"][0].update(kind="action", http={"method": "POST", "path": "/actions"}),
    )
    assert (d.code, d.message) == ("tool.action_route", "action tool 'ledger.list' declares an http route")


def test_read_tool_route_must_be_get(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][0].update(http={"method": "POST", "path": "/ledgers"}))
    assert d.code == "tool.read_route_method"


def test_tool_without_backend(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][0].pop("backend"))
    assert d.code == "tool.backend_missing"


@pytest.mark.parametrize(
    ("ref", "code"),
    [
        ({"backend": "demoo", "call": "list_ledgers"}, "backend.unknown"),
        ({"backend": "demo", "call": "list_ledgerz"}, "backend.unknown_function"),
        ({"backend": "demo", "path": "/x"}, "backend.kind_mismatch"),
        ({"call": "list_ledgers"}, "backend.missing"),
        ({"function": "opp.demo.nope:list"}, "backend.unknown_module"),
    ],
)
def test_backend_reference_errors(diagnostics: Diagnose, ref: dict[str, str], code: str) -> None:
    d = one(diagnostics, lambda c: c["tools"][0].update(backend=ref))
    assert d.code == code


def test_http_backend_needs_a_path_and_its_env(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["backends"]["api"] = {"kind": "http", "base_url": "http://127.0.0.1:9"}
        c["backends"]["secured"] = {
            "kind": "http",
            "base_url": "http://127.0.0.1:9",
            "headers": {"Authorization": "Bearer ${OPP_TEST_UNSET_TOKEN}"},
        }
        c["tools"][0]["backend"] = {"backend": "api"}
        c["tools"][1]["backend"] = {"backend": "secured", "path": "/t"}

    found = diagnostics(edit)
    # The tool on the backend that failed to build is not reported a second time.
    assert sorted(d.code for d in found) == ["backend.env_missing", "backend.path_required"]


def test_unknown_backend_module_is_reported_once(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["backends"]["demo"].update(module="opp.demo.ledgr"))
    assert d.code == "backend.unknown_module"


def test_tenant_boundary_resource_needs_a_resource(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][1].pop("resource"))
    assert d.code == "tool.tenant_lookup_missing"


def test_unknown_resource_type(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][1].update(resource={"type": "ledgr", "id_arg": "ledgerId"}))
    assert (d.code, d.hint) == ("resource.unknown_type", "did you mean 'ledger'?")


def test_resource_id_arg_must_be_an_input_property(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][1].update(resource={"type": "ledger", "id_arg": "ledger_id"}))
    assert (d.code, d.hint) == ("tool.resource_arg_unknown", "did you mean 'ledgerId'?")


def test_invalid_input_schema(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["tools"][1]["input_schema"]["properties"]["pageSize"] = {"type": "integr"}

    d = one(diagnostics, edit)
    assert (d.code, d.hint) == ("schema.invalid", "did you mean 'integer'?")


def test_input_schema_must_be_an_object(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][0].update(input_schema={"type": "array"}))
    assert (d.code, d.message) == ("schema.invalid", "an input schema must describe an object")


def test_invalid_app_policy_schema(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["app_policy_schema"].update(required="max_days"))
    assert d.code == "schema.invalid"


def test_bad_redaction_path(diagnostics: Diagnose) -> None:
    d = one(diagnostics, lambda c: c["tools"][1].update(redact=[{"fields": ["items[].title", "items.[]x"]}]))
    assert d.code == "redact.bad_path"
    assert "'items.[]x'" in d.message


def test_bad_cidrs(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["gateway"] = {"trusted_proxies": ["10.0.0.0/8", "10.0.0.0/40"]}
        c["apps"][0]["network"] = {"allowed_ips": ["fe80::/200", "2001:db8::1"]}

    found = diagnostics(edit)
    assert [d.code for d in found] == ["network.bad_cidr", "network.bad_cidr"]
    assert found[0].hint is not None and "10.0.0.0/8" in found[0].hint


def test_app_checks(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["apps"] += [
            {"id": "app_one", "name": "Again", "org_id": "org_1"},
            {"id": "app_ws", "name": "W", "scope": "workspace"},
            {"id": "app_me", "name": "P", "scope": "personal"},
            {"id": "app_data", "name": "D", "org_id": "o", "data": {"max_days": 0}},
        ]

    found = diagnostics(edit)
    assert [d.code for d in found] == [
        "app.duplicate",
        "app.workspace_without_org",
        "app.personal_without_user",
        "app.policy_invalid",
    ]


def test_key_checks(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["apps"][0]["keys"] = [
            {"id": "key_a", "token_sha256": TOKEN_A, "expires_at": "2030-01-01T00:00:00Z"},
            {"id": "key_a", "token_sha256": TOKEN_B, "expires_at": "soon"},
            {"id": "key_c", "token_sha256": TOKEN_A, "expires_at": "2030-01-01T00:00:00"},
        ]

    found = diagnostics(edit)
    assert [d.code for d in found] == ["key.duplicate", "key.bad_expiry", "key.duplicate", "key.bad_expiry"]


def test_admin_duplicate_token(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["admin"] = {
            "credentials": [
                {"name": "a", "roles": ["admin"], "token_sha256": TOKEN_A},
                {"name": "b", "roles": ["auditor"], "token_sha256": TOKEN_A},
            ]
        }

    d = one(diagnostics, edit)
    assert d.code == "admin.duplicate_token"


def test_every_semantic_error_is_reported_sorted(diagnostics: Diagnose) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["tools"][0]["required_scopes"] = ["nope"]
        c["tools"][1]["policies"] = ["missing"]
        c["apps"][0]["scopes"] = ["also.nope"]

    found = diagnostics(edit)
    assert [d.code for d in found] == ["scope.unknown", "policy.unknown_reference", "scope.unknown"]
    assert [d.line for d in found] == sorted(d.line for d in found)
