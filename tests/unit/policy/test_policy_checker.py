"""Compile-time diagnostics: every code with a real expression, its position and hint."""

from __future__ import annotations

import pytest

from opp.policy import PolicyEnvironment, compile_rule

from .conftest import compiled, issues_of


def only(source: str, env: PolicyEnvironment) -> tuple[str, str, int, int, str | None]:
    issues = issues_of(source, env)
    assert len(issues) == 1, issues
    issue = issues[0]
    return issue.code, issue.message, issue.line, issue.col, issue.hint


def test_syntax_error_has_position_inside_the_expression(transaction_env: PolicyEnvironment) -> None:
    code, message, line, col, _ = only('args.ledgerId == "a" &&\n  && true', transaction_env)
    assert (code, line, col) == ("policy.syntax_error", 2, 3)
    assert message == "syntax error: unexpected '&&'"


@pytest.mark.parametrize(
    ("source", "message", "col"),
    [
        ("args.page +", "syntax error: unexpected end of expression", 12),
        ("args.page > @", "syntax error: unexpected character '@'", 13),
        ("", "syntax error: unexpected end of expression", 1),
    ],
)
def test_syntax_error_variants(
    transaction_env: PolicyEnvironment, source: str, message: str, col: int
) -> None:
    assert only(source, transaction_env)[:4] == ("policy.syntax_error", message, 1, col)


def test_undeclared_variable_suggests_the_closest_root(transaction_env: PolicyEnvironment) -> None:
    assert only('tool.name == "x" && arg.ledgerId == "a"', transaction_env) == (
        "policy.undeclared_variable",
        "undeclared variable 'arg'",
        1,
        21,
        "did you mean 'args'?",
    )


def test_undeclared_variable_without_close_match_lists_roots(ledger_list_env: PolicyEnvironment) -> None:
    code, _, _, _, hint = only("resource.id == 'x'", ledger_list_env)
    assert code == "policy.undeclared_variable"
    assert hint == "declared variables: app, args, item, principal, request, tool"


def test_unknown_field_of_closed_object(transaction_env: PolicyEnvironment) -> None:
    assert only("app.policy.max_day > 3", transaction_env) == (
        "policy.unknown_field",
        "unknown field 'max_day' of app.policy",
        1,
        12,
        "did you mean 'max_days'?",
    )


def test_unknown_field_on_a_later_line_and_via_index(transaction_env: PolicyEnvironment) -> None:
    issues = issues_of('tool.name == "a"\n  && tool.foo == "b" && args["ledgerID"] == "c"', transaction_env)
    assert [(i.code, i.line, i.col, i.hint) for i in issues] == [
        ("policy.unknown_field", 2, 11, "declared fields: kind, name, risk"),
        ("policy.unknown_field", 2, 30, "did you mean 'ledgerId'?"),
    ]


def test_open_objects_and_maps_accept_any_field(transaction_env: PolicyEnvironment) -> None:
    compiled('principal.claims.department == "x" && principal.tenant.anything == 1', transaction_env)


def test_unknown_function_and_method(transaction_env: PolicyEnvironment) -> None:
    assert only('args.ledgerId.startWith("led_")', transaction_env) == (
        "policy.unknown_function",
        "unknown function 'startWith'",
        1,
        15,
        "did you mean 'startsWith'?",
    )
    assert only("lower(args.ledgerId) == 'a'", transaction_env)[:2] == (
        "policy.unknown_function",
        "unknown function 'lower'",
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('contains(args.ledgerId, "a")', "contains() must be called as x.contains(…)"),
        ("args.ledgerId.int() == 1", "int() must be called as int(x)"),
        ("[1].reduce(r, 0) == 1", "unknown function 'reduce'"),
        ("[1].min() == 1", "unknown function 'min'"),
    ],
)
def test_functions_outside_the_table_or_in_the_wrong_form(
    transaction_env: PolicyEnvironment, source: str, message: str
) -> None:
    issues = issues_of(source, transaction_env)
    assert (issues[0].code, issues[0].message) == ("policy.unknown_function", message)


@pytest.mark.parametrize(
    ("source", "found"),
    [("args.page", "int"), ('args.ledgerId + "x"', "string"), ("principal.scopes", "list(string)")],
)
def test_not_boolean(transaction_env: PolicyEnvironment, source: str, found: str) -> None:
    assert only(source, transaction_env)[:4] == (
        "policy.not_boolean",
        f"expression must evaluate to bool, not {found}",
        1,
        1,
    )


def test_dyn_results_are_accepted(transaction_env: PolicyEnvironment) -> None:
    compiled("principal.claims.admin", transaction_env)
    compiled("app.policy.allowed_ledger_ids", transaction_env)


@pytest.mark.parametrize(
    ("source", "message", "col"),
    [
        ('args.page + "x" == "1x"', "no operator int + string", 11),
        ("!args.ledgerId", "operand of ! must be bool, not string", 2),
        ('args.ledgerId == "a" && 1', "operand of && must be bool, not int", 25),
        ("app.policy.max_days < 1.5", "no operator int < double", 21),
        ('args.page == "1"', "no operator int == string", 11),
        ('args.page in ["1", "2"]', "no operator int in list(string)", 11),
        ("size(args.page) > 0", "size() applies to bytes or list or map or string, not int", 6),
        ("request.time > timestamp(1)", "timestamp() applies to string or timestamp, not int", 26),
        ("request.time + request.time > request.time", "no operator timestamp + timestamp", 14),
        ('principal.scopes.all(s, s + "x")', "the predicate of all() must be bool, not string", 25),
        ("args.ledgerId.startsWith(1)", "argument of startsWith() must be string, not int", 26),
        ('args.ledgerId.x == "a"', "cannot select field 'x' of string", 15),
        ('args.ledgerId[0] == "a"', "cannot index string with int", 15),
        ("args.page.exists(x, x)", "exists() needs a list or map, not int", 11),
    ],
)
def test_type_mismatch(transaction_env: PolicyEnvironment, source: str, message: str, col: int) -> None:
    assert only(source, transaction_env)[:4] == ("policy.type_mismatch", message, 1, col)


def test_type_checks_let_dyn_and_null_flow(transaction_env: PolicyEnvironment) -> None:
    compiled(
        "app.policy.allowed_ledger_ids != null && principal.claims.level + 1 > 2"
        " && principal.tenant == null && dyn(args.page) == 'x' && args.page < 2u",
        transaction_env,
    )


def test_has_requires_a_field_selection(transaction_env: PolicyEnvironment) -> None:
    assert only("has(args)", transaction_env)[:2] == (
        "policy.syntax_error",
        "has() takes one field selection, such as has(args.startDate)",
    )
    assert only("has(args.startDat)", transaction_env)[0] == "policy.unknown_field"
    assert compiled("has(args.startDate) && has(principal.claims.x)", transaction_env).uses == {
        "args",
        "principal",
    }


def test_macro_variables_are_scoped(transaction_env: PolicyEnvironment) -> None:
    program = compiled('principal.scopes.exists(s, s.startsWith("transaction."))', transaction_env)
    assert program.uses == {"principal"}
    issue = only("principal.scopes.all(s, s != '') && s == ''", transaction_env)
    assert issue[:4] == ("policy.undeclared_variable", "undeclared variable 's'", 1, 37)
    # A bound variable shadows a root variable of the same name inside the body only.
    compiled("[1, 2].all(args, args > 0) && args.page > 0", transaction_env)
    compiled("principal.scopes.map(s, size(s)).all(n, n > 0)", transaction_env)
    compiled("principal.scopes.filter(s, s.endsWith('.read')).exists_one(s, s == 'x')", transaction_env)


def test_macro_needs_a_variable_name(transaction_env: PolicyEnvironment) -> None:
    assert only("principal.scopes.all('s', true)", transaction_env)[0] == "policy.syntax_error"
    assert only("[1].map(x, x > 0, x * 2) == [2]", transaction_env)[0] == "policy.syntax_error"


def test_every_issue_is_reported_in_source_order(transaction_env: PolicyEnvironment) -> None:
    program, issues = compile_rule("foo == 1 && args.nope == 2 && bar(1)", transaction_env)
    assert program is None
    assert [i.code for i in issues] == [
        "policy.undeclared_variable",
        "policy.unknown_field",
        "policy.unknown_function",
    ]


def test_uses_lists_only_referenced_roots(transaction_env: PolicyEnvironment) -> None:
    assert compiled("type(args.page) == int", transaction_env).uses == {"args"}
    assert compiled("true", transaction_env).uses == frozenset()
    assert compiled('request.time.getFullYear("Europe/Paris") > 2000', transaction_env).uses == {"request"}
