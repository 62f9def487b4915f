"""opp's custom functions ``glob`` and ``ip_in_cidr``/``inCidr`` in both engines, and in the checker."""

from __future__ import annotations

from typing import Any

import pytest

from opp.policy import PolicyEnvironment, PolicyEvalError, build_environment, compile_rule
from opp.policy.engine import ENGINES, Engine
from opp.policy.extensions import glob_regex

from .conftest import compiled, issues_of

ERROR = "error"

_ENV = build_environment(
    app_policy_schema={"type": "object", "properties": {}},
    input_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "n": {"type": "integer"}},
    },
)


def _run(engine: Engine, source: str, **args: Any) -> bool | str:
    program, issues = compile_rule(source, _ENV, engine)
    assert issues == [] and program is not None, issues
    try:
        return program.evaluate({"args": args})
    except PolicyEvalError:
        return ERROR


def _every_form(engine: Engine, function: str, method: str, first: str, second: str) -> bool | str:
    """The outcome of both call forms, which must agree, with dynamic and with literal arguments."""
    outcomes = {
        _run(engine, f"{function}(args.a, args.b)", a=first, b=second),
        _run(engine, f"args.a.{method}(args.b)", a=first, b=second),
        _run(engine, f"args.a.{method}({_quoted(second)})", a=first),
    }
    assert len(outcomes) == 1, outcomes
    return outcomes.pop()


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_GLOB_CASES = [
    # literal, whole-string, case-sensitive
    ("transaction.list", "transaction.list", True),
    ("transaction.list", "transaction", False),
    ("Transaction.list", "transaction.list", False),
    ("a.b", "a?b", True),
    ("axb", "a.b", False),
    # *
    ("", "*", True),
    ("abc", "*", True),
    ("abc", "a*", True),
    ("abc", "*c", True),
    ("abc", "a*c", True),
    ("ac", "a*c", True),
    ("abd", "a*c", False),
    ("/api/v1/ledgers", "/api/*", True),
    ("a/b/c", "a*c", True),
    ("line\nbreak", "line*", True),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*c", False),
    ("abc", "***", True),
    ("aba", "ab*ba", False),  # head and tail may not overlap
    ("abba", "ab*ba", True),
    ("xay", "*a*", True),
    ("xy", "*a*", False),
    ("a1b2c", "a*b*c", True),
    ("acb", "a*b*c", False),
    ("a*b", "a\\*b", True),
    ("axb", "a\\*b", False),
    # ?
    ("abc", "a?c", True),
    ("ac", "a?c", False),
    ("abbc", "a?c", False),
    ("a\nc", "a?c", True),
    ("", "?", False),
    # classes
    ("b", "[abc]", True),
    ("d", "[abc]", False),
    ("m", "[a-z]", True),
    ("M", "[a-z]", False),
    ("7", "[0-9a-f]", True),
    ("-", "[a-]", True),
    ("-", "[-a]", True),
    ("b", "[a-]", False),
    ("]", "[]a]", True),
    ("a", "[]a]", True),
    ("^", "[^a]", True),
    ("b", "[^a]", False),
    ("*", "[*?]", True),
    ("x", "[*?]", False),
    # negation
    ("b", "[!a]", True),
    ("a", "[!a]", False),
    ("]", "[!]]", False),
    ("x", "[!]]", True),
    ("5", "[!a-z]", True),
    ("q", "[!a-z]", False),
    ("\n", "[!a]", True),
    ("", "[!a]", False),
    # escapes
    ("*", "\\*", True),
    ("a", "\\*", False),
    ("?", "\\?", True),
    ("[x]", "\\[x]", True),
    ("\\", "\\\\", True),
    ("a", "\\a", True),
    ("]", "[\\]]", True),
    ("-", "[a\\-z]", True),
    ("b", "[a\\-z]", False),
    # empty
    ("", "", True),
    ("a", "", False),
    # unicode: one code point per ?, ranges by code point
    ("é", "?", True),
    ("日本", "??", True),
    ("日本", "?", False),
    ("café", "caf[éè]", True),
    ("ß", "[À-ÿ]", True),
    ("ß", "[à-ÿ]", False),
    ("😀x", "?x", True),
    ("ÉTÉ", "été", False),
    # regex metacharacters are literal
    ("a+b", "a+b", True),
    ("aab", "a+b", False),
    ("(x)|y", "(x)|y", True),
    ("$^.{1}", "$^.{1}", True),
    (" \t", " \t", True),
    # malformed
    ("[", "[", ERROR),
    ("a", "[a", ERROR),
    ("a", "[!", ERROR),
    ("]", "[]", ERROR),
    ("a", "a\\", ERROR),
    ("b", "[z-a]", ERROR),
    ("a", "[a\\", ERROR),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("text", "pattern", "expected"), _GLOB_CASES)
def test_glob(engine: Engine, text: str, pattern: str, expected: bool | str) -> None:
    assert _every_form(engine, "glob", "glob", text, pattern) == expected


_CIDR_CASES = [
    # IPv4
    ("10.1.2.3", "10.0.0.0/8", True),
    ("11.0.0.0", "10.0.0.0/8", False),
    ("10.255.255.255", "10.0.0.0/8", True),
    ("9.255.255.255", "10.0.0.0/8", False),
    ("192.168.1.0", "192.168.1.0/24", True),
    ("192.168.1.255", "192.168.1.0/24", True),
    ("192.168.2.0", "192.168.1.0/24", False),
    ("192.0.2.7", "192.0.2.7/32", True),
    ("192.0.2.8", "192.0.2.7/32", False),
    ("192.0.2.7", "192.0.2.7", True),
    ("203.0.113.9", "0.0.0.0/0", True),
    ("10.1.2.3", "10.9.9.9/8", True),  # host bits allowed
    # IPv6
    ("2001:db8::1", "2001:db8::/32", True),
    ("2001:db9::1", "2001:db8::/32", False),
    ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32", True),
    ("2001:DB8::1", "2001:db8::/32", True),
    ("::1", "::1/128", True),
    ("::2", "::1/128", False),
    ("fe80::1", "::/0", True),
    # IPv4-mapped addresses are IPv4; never mixed families
    ("::ffff:10.1.2.3", "10.0.0.0/8", True),
    ("::ffff:11.1.2.3", "10.0.0.0/8", False),
    ("10.1.2.3", "::ffff:10.0.0.0/104", True),
    ("::ffff:10.1.2.3", "::ffff:10.0.0.0/104", True),
    ("10.1.2.3", "::/0", False),
    ("::ffff:10.1.2.3", "::/0", False),
    ("2001:db8::1", "0.0.0.0/0", False),
    ("::1", "0.0.0.0/0", False),
    # unparsable → error
    ("", "10.0.0.0/8", ERROR),
    ("not-an-ip", "10.0.0.0/8", ERROR),
    ("10.0.0.256", "10.0.0.0/8", ERROR),
    ("010.0.0.1", "10.0.0.0/8", ERROR),
    (" 10.0.0.1", "10.0.0.0/8", ERROR),
    ("10.0.0.1/32", "10.0.0.0/8", ERROR),
    ("10.0.0.1", "", ERROR),
    ("10.0.0.1", "10.0.0.0/33", ERROR),
    ("10.0.0.1", "10.0.0.0/", ERROR),
    ("10.0.0.1", "garbage", ERROR),
    ("2001:db8::1", "2001:db8::/129", ERROR),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("ip", "cidr", "expected"), _CIDR_CASES)
def test_ip_in_cidr(engine: Engine, ip: str, cidr: str, expected: bool | str) -> None:
    assert _every_form(engine, "ip_in_cidr", "inCidr", ip, cidr) == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_errors_are_absorbed_like_any_cel_error(engine: Engine) -> None:
    assert _run(engine, 'false && args.a.glob("[")', a="x") is False
    assert _run(engine, 'args.a.inCidr("10.0.0.0/8") || true', a="") is True
    assert _run(engine, '!args.a.inCidr("10.0.0.0/8")', a="") == ERROR


@pytest.mark.parametrize("engine", ENGINES)
def test_a_value_that_is_not_a_string_at_run_time_is_an_error(engine: Engine) -> None:
    env = build_environment(
        app_policy_schema={"type": "object", "properties": {}},
        input_schema={"type": "object", "properties": {"v": {}}},
    )
    for source in ('glob(args.v, "*")', 'args.v.inCidr("0.0.0.0/0")', 'ip_in_cidr("1.2.3.4", args.v)'):
        program, issues = compile_rule(source, env, engine)
        assert program is not None, issues
        for value in (1, None, ["1.2.3.4"], b"x"):
            with pytest.raises(PolicyEvalError):
                program.evaluate({"args": {"v": value}})


@pytest.mark.parametrize("engine", ENGINES)
def test_glob_on_text_with_a_lone_surrogate_is_an_error(engine: Engine) -> None:
    assert _run(engine, 'args.a.glob("*")', a="x\ud800") == ERROR
    assert _run(engine, 'args.a.glob("?x?")', a="\ud800x\ud800") == ERROR


def test_glob_translation_is_anchored_and_escapes_everything() -> None:
    assert glob_regex("a*?[!b-d]\\*.") == "(?s)a.*.[^b-d]\\x{2a}\\x{2e}"
    assert glob_regex("**x**") == "(?s).*x.*"


@pytest.mark.parametrize(
    "source",
    [
        'glob(args.a, "x*")',
        'args.a.glob("x*")',
        'ip_in_cidr(args.a, "10.0.0.0/8")',
        'args.a.inCidr("10.0.0.0/8")',
        'args.a.glob("x*") == !args.a.inCidr("::/0")',
    ],
)
def test_checker_accepts_string_arguments_and_types_the_result_bool(source: str) -> None:
    assert compiled(source, _ENV).source == source
    assert compiled(f"({source}) && true", _ENV).source == f"({source}) && true"
    issues = issues_of(f"({source}) + 1", _ENV)  # bool + int: the checker knows the result is a bool
    assert [(issue.code, issue.message) for issue in issues] == [
        ("policy.type_mismatch", "no operator bool + int")
    ]


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ('glob(args.n, "x*")', "policy.type_mismatch"),
        ("args.a.glob(args.n)", "policy.type_mismatch"),
        ("glob(args.a, 1)", "policy.type_mismatch"),
        ('ip_in_cidr(args.n, "10.0.0.0/8")', "policy.type_mismatch"),
        ("ip_in_cidr(args.a, 8)", "policy.type_mismatch"),
        ('args.n.inCidr("10.0.0.0/8")', "policy.type_mismatch"),
        ('args.a.glob("x*") + 1', "policy.type_mismatch"),
        ('args.a.glob("a", "b")', "policy.type_mismatch"),
        ("glob(args.a)", "policy.type_mismatch"),
        ('args.a.ip_in_cidr("10.0.0.0/8")', "policy.unknown_function"),
        ('inCidr(args.a, "10.0.0.0/8")', "policy.unknown_function"),
        ('args.a.globb("x")', "policy.unknown_function"),
    ],
)
def test_checker_rejects_misuse(source: str, code: str) -> None:
    assert [issue.code for issue in issues_of(source, _ENV)] == [code]


def test_the_documented_request_ip_rule(transaction_env: PolicyEnvironment) -> None:
    rule = 'tool.kind == "action" && !request.ip.inCidr("10.0.0.0/8")'
    for engine in ENGINES:
        program, issues = compile_rule(rule, transaction_env, engine)
        assert program is not None, issues
        request = {"ip": "10.4.5.6"}
        assert program.evaluate({"tool": {"kind": "action"}, "request": request}) is False
        assert program.evaluate({"tool": {"kind": "action"}, "request": {"ip": "192.0.2.1"}}) is True
        assert program.evaluate({"tool": {"kind": "read"}, "request": {"ip": ""}}) is False
        with pytest.raises(PolicyEvalError):
            program.evaluate({"tool": {"kind": "action"}, "request": {"ip": ""}})
