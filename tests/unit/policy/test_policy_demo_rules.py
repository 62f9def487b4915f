"""The rules of the root gateway.yaml check clean and evaluate as their descriptions say."""

from __future__ import annotations

from typing import Any

import pytest

from opp.policy import PolicyEnvironment

from .conftest import activation, compiled


def test_every_demo_policy_checks_clean(rule_sites: dict[str, tuple[str, PolicyEnvironment]]) -> None:
    uses = {rule_id: compiled(source, env).uses for rule_id, (source, env) in rule_sites.items()}
    assert {
        "ledger-allowlist": {"app", "args"},
        "inverted-range": {"args"},
        "max-days-window": {"app", "args"},
        "max-days-open-start": {"app", "args", "request"},
    }.items() <= uses.items()


def test_redact_and_filter_rules_check_clean(
    gateway: dict[str, Any], transaction_env: PolicyEnvironment, ledger_list_env: PolicyEnvironment
) -> None:
    tools = {tool["name"]: tool for tool in gateway["tools"]}
    for redaction in tools["transaction.list"]["redact"]:
        assert compiled(redaction["unless"], transaction_env).uses == {"app"}
    keep = compiled(tools["ledger.list"]["filter_items"]["keep"], ledger_list_env)
    assert keep.uses == {"app", "item"}


@pytest.mark.parametrize(
    ("start", "end", "denied"),
    [
        ("2025-01-01", "2025-02-15", True),
        ("2025-01-01", "2025-01-11", False),
        ("2025-01-01", "2025-01-31", False),
    ],
)
def test_max_days_window(
    rules: dict[str, str], transaction_env: PolicyEnvironment, start: str, end: str, denied: bool
) -> None:
    program = compiled(rules["max-days-window"], transaction_env)
    assert program.evaluate(activation(args={"startDate": start, "endDate": end})) is denied


def test_max_days_window_follows_the_app_policy(
    rules: dict[str, str], transaction_env: PolicyEnvironment
) -> None:
    program = compiled(rules["max-days-window"], transaction_env)
    wide = activation(args={"startDate": "2025-01-01", "endDate": "2025-02-15"}, policy={"max_days": 60})
    assert program.evaluate(wide) is False


def test_max_days_window_ignores_open_ranges(
    rules: dict[str, str], transaction_env: PolicyEnvironment
) -> None:
    program = compiled(rules["max-days-window"], transaction_env)
    assert program.evaluate(activation(args={"startDate": "2020-01-01"})) is False
    assert program.evaluate(activation()) is False


def test_max_days_open_start_uses_request_time(
    rules: dict[str, str], transaction_env: PolicyEnvironment
) -> None:
    program = compiled(rules["max-days-open-start"], transaction_env)
    # NOW is 2025-03-15T12:00Z.
    assert program.evaluate(activation(args={"startDate": "2025-01-01"})) is True
    assert program.evaluate(activation(args={"startDate": "2025-03-01"})) is False
    assert program.evaluate(activation(args={"startDate": "2025-01-01", "endDate": "2025-01-02"})) is False


def test_inverted_range(rules: dict[str, str], transaction_env: PolicyEnvironment) -> None:
    program = compiled(rules["inverted-range"], transaction_env)
    assert program.evaluate(activation(args={"startDate": "2025-02-01", "endDate": "2025-01-01"})) is True
    assert program.evaluate(activation(args={"startDate": "2025-01-01", "endDate": "2025-01-01"})) is False
    assert program.evaluate(activation(args={"endDate": "2025-01-01"})) is False


@pytest.mark.parametrize(
    ("allowed", "denied"),
    [(None, False), (["led_1", "led_2"], False), (["led_2"], True), ([], True)],
)
def test_ledger_allowlist(
    rules: dict[str, str], transaction_env: PolicyEnvironment, allowed: list[str] | None, denied: bool
) -> None:
    program = compiled(rules["ledger-allowlist"], transaction_env)
    assert program.evaluate(activation(policy={"allowed_ledger_ids": allowed})) is denied


def test_redaction_unless(gateway: dict[str, Any], transaction_env: PolicyEnvironment) -> None:
    tool = next(t for t in gateway["tools"] if t["name"] == "transaction.list")
    program = compiled(tool["redact"][0]["unless"], transaction_env)
    assert program.evaluate(activation()) is False
    assert program.evaluate(activation(policy={"allow_sensitive_fields": True})) is True


@pytest.mark.parametrize(
    ("allowed", "item_id", "kept"),
    [(None, "led_9", True), (["led_1"], "led_1", True), (["led_1"], "led_9", False)],
)
def test_filter_items_keep(
    gateway: dict[str, Any],
    ledger_list_env: PolicyEnvironment,
    allowed: list[str] | None,
    item_id: str,
    kept: bool,
) -> None:
    tool = next(t for t in gateway["tools"] if t["name"] == "ledger.list")
    program = compiled(tool["filter_items"]["keep"], ledger_list_env)
    item = {"id": item_id, "name": "Main", "currency": "EUR"}
    assert program.evaluate(activation(policy={"allowed_ledger_ids": allowed}, item=item)) is kept
