"""Evaluation: value conversion, timestamps/durations, and errors that must deny."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from celpy.celparser import CELParser

from opp.policy import PolicyEnvironment, PolicyEvalError, Program, build_environment

from .conftest import NOW, activation, compiled


def test_program_satisfies_the_policy_interface(transaction_env: PolicyEnvironment) -> None:
    program: Program = compiled("args.page == 1", transaction_env)
    assert program.source == "args.page == 1"
    assert program.uses == frozenset({"args"})
    assert program.evaluate(activation()) is True


def test_only_used_variables_are_required(transaction_env: PolicyEnvironment) -> None:
    program = compiled("args.page > 0", transaction_env)
    assert program.evaluate({"args": {"page": 3}, "app": object()}) is True


def test_has_on_absent_optional_argument(transaction_env: PolicyEnvironment) -> None:
    program = compiled("!has(args.startDate) || args.startDate != ''", transaction_env)
    assert program.evaluate(activation()) is True
    assert program.evaluate(activation(args={"startDate": ""})) is False


def test_missing_field_raises(transaction_env: PolicyEnvironment) -> None:
    program = compiled('args.startDate == "2025-01-01"', transaction_env)
    with pytest.raises(PolicyEvalError, match="startDate"):
        program.evaluate(activation())


def test_missing_root_variable_raises(transaction_env: PolicyEnvironment) -> None:
    program = compiled("resource.currency == 'EUR'", transaction_env)
    with pytest.raises(PolicyEvalError, match="'resource' is missing"):
        program.evaluate({"args": {}})


@pytest.mark.parametrize(
    "source",
    [
        "args.page / (args.page - 1) == 0",
        "args.page % 0 == 0",
        "args.page * 9223372036854775807 + 1 > 0",
        "args.page - 9223372036854775807 - 3 < 0",
        "int('not a number') == 1",
        "timestamp(args.ledgerId) > request.time",
        "app.policy.allowed_ledger_ids.exists(l, l == 'x')",
        "principal.claims.level > 1",
    ],
)
def test_evaluation_errors_raise(transaction_env: PolicyEnvironment, source: str) -> None:
    program = compiled(source, transaction_env)
    with pytest.raises(PolicyEvalError):
        program.evaluate(activation())


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("principal.scopes != null", True),
        ("principal.scopes == null", False),
        ("null != principal.claims", True),
        ("principal.claims.level == null", False),
        ("principal.tenant == null", True),
        ("null == principal.tenant", True),
    ],
)
def test_null_compares_with_any_value(
    transaction_env: PolicyEnvironment, source: str, expected: bool
) -> None:
    program = compiled(source, transaction_env)
    values = activation(principal={"scopes": ["a"], "claims": {"level": 1}, "tenant": None})
    assert program.evaluate(values) is expected


def test_dyn_result_that_is_not_bool_raises(transaction_env: PolicyEnvironment) -> None:
    program = compiled("principal.claims.level", transaction_env)
    with pytest.raises(PolicyEvalError, match="not bool"):
        program.evaluate(activation(principal={"claims": {"level": 3}}))
    assert program.evaluate(activation(principal={"claims": {"level": True}})) is True


def test_error_messages_do_not_dump_the_activation(transaction_env: PolicyEnvironment) -> None:
    program = compiled("[1].exists(x, principal.claims.secret == x)", transaction_env)
    with pytest.raises(PolicyEvalError) as raised:
        program.evaluate(activation(principal={"claims": {"token": "op_secret"}}))
    assert "op_secret" not in str(raised.value)
    assert len(str(raised.value)) <= 200


def test_unconvertible_values_raise(transaction_env: PolicyEnvironment) -> None:
    program = compiled("args.page > 0", transaction_env)
    with pytest.raises(PolicyEvalError, match="unsupported type"):
        program.evaluate({"args": {"page": object()}})
    with pytest.raises(PolicyEvalError, match="overflow"):
        program.evaluate({"args": {"page": 2**64}})
    clock = compiled("request.time > timestamp('2000-01-01T00:00:00Z')", transaction_env)
    with pytest.raises(PolicyEvalError, match="naive datetime"):
        clock.evaluate(activation(now=dt.datetime(2025, 1, 1)))


def test_request_time_as_datetime(transaction_env: PolicyEnvironment) -> None:
    program = compiled(
        'request.time > timestamp("2025-03-15T11:59:59Z") && request.time.getFullYear() == 2025'
        " && request.time.getHours() == 12 && request.time.getDayOfWeek() == 6",
        transaction_env,
    )
    assert program.evaluate(activation()) is True
    assert program.evaluate(activation(now=NOW - dt.timedelta(hours=1))) is False


def test_timestamp_and_duration_arithmetic(transaction_env: PolicyEnvironment) -> None:
    program = compiled(
        'request.time - timestamp("2025-03-14T12:00:00Z") == duration("24h")'
        ' && request.time + duration("90m") > request.time'
        ' && duration("1h30m").getMinutes() == 90',
        transaction_env,
    )
    assert program.evaluate(activation()) is True


def test_typed_resource_fields_are_converted() -> None:
    env = build_environment(
        app_policy_schema={},
        resource_fields={"created_at": "timestamp", "size": "int", "tags": "list", "meta": "map"},
    )
    program = compiled(
        'request.time - resource.created_at < duration("48h")'
        ' && "x" in resource.tags && resource.meta.a == 1',
        env,
    )
    resource: dict[str, Any] = {
        "created_at": "2025-03-14T00:00:00Z",
        "size": 1,
        "tags": ["x"],
        "meta": {"a": 1},
    }
    assert program.evaluate(activation(resource=resource)) is True
    older = resource | {"created_at": dt.datetime(2025, 3, 1, tzinfo=dt.UTC)}
    assert program.evaluate(activation(resource=older)) is False


def test_evaluation_does_not_parse(
    transaction_env: PolicyEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = compiled("args.page == 1 && has(args.ledgerId)", transaction_env)

    def refuse(self: CELParser, text: str) -> None:
        raise AssertionError(f"parsed at evaluation: {text}")

    monkeypatch.setattr(CELParser, "parse", refuse)
    assert program.evaluate(activation()) is True
    assert program.evaluate(activation(args={"page": 2})) is False


def test_repeated_evaluation_is_stable(transaction_env: PolicyEnvironment) -> None:
    program = compiled("principal.scopes.exists(s, s == 'transaction.read')", transaction_env)
    results = {program.evaluate(activation()) for _ in range(5)}
    assert results == {True}


def test_evaluation_is_quiet(transaction_env: PolicyEnvironment, caplog: pytest.LogCaptureFixture) -> None:
    program = compiled("args.page / 0 == 1", transaction_env)
    with caplog.at_level(logging.DEBUG), pytest.raises(PolicyEvalError):
        program.evaluate(activation())
    assert [r for r in caplog.records if r.name.startswith("celpy")] == []
