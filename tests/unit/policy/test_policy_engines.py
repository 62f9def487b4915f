"""Both engines behind one interface: the demo rules evaluated both ways, engine selection, and
what the compiled evaluator reads from the activation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from celpy.celparser import CELParser

from opp.policy import PolicyEnvironment, PolicyEvalError, compile_rule
from opp.policy.celpython import CelProgram
from opp.policy.compiled import CompiledProgram, UnsupportedExpression, compile_tree
from opp.policy.engine import ENGINES, Engine

from .conftest import NOW, activation

_DEMO_ACTIVATIONS: list[dict[str, Any]] = [
    activation(),
    activation(policy={"allowed_ledger_ids": ["led_1"]}),
    activation(policy={"allowed_ledger_ids": ["led_2", "led_3"]}),
    activation(args={"startDate": "2025-01-01", "endDate": "2025-01-20"}),
    activation(args={"startDate": "2025-02-01", "endDate": "2025-01-20"}),
    activation(args={"startDate": "2024-01-01", "endDate": "2025-01-20"}),
    activation(args={"startDate": "2025-03-01"}),
    activation(args={"startDate": "2020-03-01"}, policy={"max_days": 10}),
    activation(args={"startDate": "not-a-date", "endDate": "2025-01-20"}),
    activation(args={"startDate": "2025-01-01"}, policy={"max_days": 2**62}),
    activation(resource={"id": "t1", "ledgerId": "led_2", "org_id": "org_demo"}),
    activation(policy={"allowed_ledger_ids": ["led_1"]}, resource={"ledgerId": "led_1"}),
    activation(app={"scope": "personal", "tenant": "org_demo", "policy": {}}),
]


def _outcome(source: str, env: PolicyEnvironment, engine: Engine, data: dict[str, Any]) -> object:
    program, issues = compile_rule(source, env, engine)
    assert issues == [] and program is not None
    try:
        return program.evaluate(data)
    except PolicyEvalError:
        return "deny (error)"


@pytest.mark.parametrize("index", range(len(_DEMO_ACTIVATIONS)))
def test_demo_rules_agree_across_engines(
    rule_sites: dict[str, tuple[str, PolicyEnvironment]], index: int
) -> None:
    data = _DEMO_ACTIVATIONS[index]
    assert len(rule_sites) >= 4
    for source, env in rule_sites.values():
        reference = _outcome(source, env, "cel-python", data)
        assert _outcome(source, env, "compiled", data) == reference, source


def test_demo_filter_rule_agrees_across_engines(
    gateway: dict[str, Any], ledger_list_env: PolicyEnvironment
) -> None:
    keep = next(t for t in gateway["tools"] if t["name"] == "ledger.list")["filter_items"]["keep"]
    for allowed in (None, ["led_1"], []):
        for item in ({"id": "led_1"}, {"id": "led_2"}, {}):
            data = activation(policy={"allowed_ledger_ids": allowed}, item=item)
            outcomes = {_outcome(keep, ledger_list_env, engine, data) for engine in ENGINES}
            assert len(outcomes) == 1, (allowed, item, outcomes)


def test_engine_choice_selects_the_program(transaction_env: PolicyEnvironment) -> None:
    compiled, _ = compile_rule("args.page > 0", transaction_env)
    reference, _ = compile_rule("args.page > 0", transaction_env, "cel-python")
    assert isinstance(compiled, CompiledProgram)
    assert isinstance(reference, CelProgram)
    assert compiled.uses == reference.uses == frozenset({"args"})


def test_compiled_form_that_cannot_be_built_is_reported() -> None:
    with pytest.raises(UnsupportedExpression) as caught:
        compile_tree(CELParser().parse("1 == 1 && Msg{a: 1} == 2"), {})
    assert (caught.value.line, caught.value.col) == (1, 11)


class _Untouchable(dict[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise AssertionError(f"read {key!r}")


def test_only_referenced_fields_are_read(transaction_env: PolicyEnvironment) -> None:
    program, _ = compile_rule("args.page == 1 && principal.sub == 'svc'", transaction_env)
    assert program is not None
    principal = {"sub": "svc", "claims": _Untouchable(), "scopes": _Untouchable()}
    assert program.evaluate({"args": {"page": 1, "filter": _Untouchable()}, "principal": principal})


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("principal.claims.flag == true", True, True),
        ("principal.claims.flag == 1", True, False),
        ("principal.claims.flag == 1", 1, True),
        ("principal.claims.flag == 1.0", 1.0, True),
        ("type(principal.claims.flag) == bool", True, True),
        ("type(principal.claims.flag) == int", 7, True),
        ("type(principal.claims.flag) == double", 7.0, True),
    ],
)
def test_bool_int_and_double_leaves_stay_distinct(
    transaction_env: PolicyEnvironment, source: str, value: object, expected: bool
) -> None:
    program, issues = compile_rule(source, transaction_env)
    assert issues == [] and program is not None
    assert program.evaluate({"principal": {"claims": {"flag": value}}}) is expected


def test_declared_timestamp_strings_are_parsed(transaction_env: PolicyEnvironment) -> None:
    program, _ = compile_rule("request.time > timestamp('2025-01-01T00:00:00Z')", transaction_env)
    assert program is not None
    assert program.evaluate({"request": {"time": "2025-03-15T12:00:00Z"}}) is True
    assert program.evaluate({"request": {"time": NOW - dt.timedelta(days=365)}}) is False
    with pytest.raises(PolicyEvalError, match="naive"):
        program.evaluate({"request": {"time": dt.datetime(2025, 1, 2)}})
