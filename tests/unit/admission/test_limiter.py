"""Admission: counting by dimension, 429 with headers, first refusal per window audited, fail closed."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import limits
import pytest
from limits.storage import storage_from_string

from opp.admission import Admission, AdmissionPlan, LimitRule, SqliteStorage, caller_values
from opp.codes import ReasonCode
from opp.errors import OppError

from .conftest import principal


class FakeTime:
    def __init__(self, at: float = 1_800_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def rule(rule_id: str, per: tuple[str, ...], limit: str, tools: frozenset[str] = frozenset()) -> LimitRule:
    return LimitRule(id=rule_id, per=per, item=limits.parse(limit), tools=tools)  # type: ignore[arg-type]


async def refusal(call: Awaitable[None]) -> OppError:
    with pytest.raises(OppError) as caught:
        await call
    return caught.value


@pytest.fixture
def now() -> FakeTime:
    return FakeTime()


@pytest.fixture
def counters(tmp_path: Path, now: FakeTime) -> SqliteStorage:
    """A storage on the fake clock, so windows can be moved past without waiting."""
    return SqliteStorage(f"sqlite:///{tmp_path}/c.sqlite3", wrap_exceptions=True, timer=now)


def test_caller_values_fall_back_when_a_dimension_is_unknown() -> None:
    values = caller_values(principal(tenant=None), None)

    assert values == {"key": "sub:svc", "app": "app_one", "ip": "-", "tenant": "-", "tool": "-"}
    assert caller_values(principal(), "10.0.0.1", "ledger.list")["tool"] == "ledger.list"


async def test_the_quota_holds_then_429_with_headers(counters: SqliteStorage, now: FakeTime) -> None:
    plan = AdmissionPlan(request_rules=(rule("per-key-ip", ("key", "ip"), "3/minute"),))
    admission = Admission(plan, storage=counters, timer=now)
    caller = principal()
    for _ in range(3):
        await admission.check_request(caller, "10.0.0.1")
    now.at += 20

    error = await refusal(admission.check_request(caller, "10.0.0.1"))

    assert error.code is ReasonCode.RATE_LIMITED
    assert error.status == 429
    assert error.details == {"violatedPolicies": ["per-key-ip"], "retryAfterSeconds": 40}
    assert error.headers == {
        "Retry-After": "40",
        "RateLimit": '"per-key-ip";r=0;t=40',
        "RateLimit-Policy": '"per-key-ip";q=3;w=60',
    }


async def test_each_dimension_value_has_its_own_counter() -> None:
    plan = AdmissionPlan(request_rules=(rule("per-key-ip", ("key", "ip"), "1/minute"),))
    admission = Admission(plan)
    await admission.check_request(principal("alice"), "10.0.0.1")

    await admission.check_request(principal("alice"), "10.0.0.2")  # same key, other address
    await admission.check_request(principal("bob"), "10.0.0.1")  # other key, same address
    assert (await refusal(admission.check_request(principal("alice"), "10.0.0.1"))).status == 429


async def test_a_tenant_quota_is_shared_by_its_apps() -> None:
    admission = Admission(AdmissionPlan(request_rules=(rule("tenant", ("tenant",), "2/hour"),)))
    await admission.check_request(principal(app="app_one", tenant="org_1"), None)
    await admission.check_request(principal(app="app_two", tenant="org_1"), None)

    await admission.check_request(principal(app="app_three", tenant="org_2"), None)
    error = await refusal(admission.check_request(principal(app="app_three", tenant="org_1"), None))
    assert error.details is not None and error.details["violatedPolicies"] == ["tenant"]


async def test_tool_rules_count_only_their_tools() -> None:
    exports = rule("exports", ("key",), "1/minute", frozenset({"transaction.export"}))
    plan = AdmissionPlan(tool_rules={"transaction.export": (exports,)})
    admission = Admission(plan)
    caller = principal()

    await admission.check_request(caller, None)  # no request rules: nothing counted
    await admission.check_tool("ledger.list", caller, None)
    await admission.check_tool("ledger.list", caller, None)
    await admission.check_tool("transaction.export", caller, None)
    assert (await refusal(admission.check_tool("transaction.export", caller, None))).status == 429


async def test_rules_are_hit_in_order_and_the_first_exhausted_refuses() -> None:
    plan = AdmissionPlan(
        request_rules=(rule("burst", ("key",), "2/second"), rule("hourly", ("key",), "100/hour"))
    )
    admission = Admission(plan)
    await admission.check_request(principal(), None)
    await admission.check_request(principal(), None)

    error = await refusal(admission.check_request(principal(), None))

    assert error.details is not None and error.details["violatedPolicies"] == ["burst"]
    assert admission.rejections == {"burst": 1}


async def test_only_the_first_refusal_of_a_window_is_audited(counters: SqliteStorage, now: FakeTime) -> None:
    admission = Admission(
        AdmissionPlan(request_rules=(rule("r", ("key",), "1/minute"),)), storage=counters, timer=now
    )
    await admission.check_request(principal(), None)

    storm = [await refusal(admission.check_request(principal(), None)) for _ in range(5)]
    await admission.check_request(principal("bob"), None)
    other = await refusal(admission.check_request(principal("bob"), None))
    now.at += 61  # the next window: quota back, and its first refusal is audited again
    await admission.check_request(principal(), None)
    next_window = await refusal(admission.check_request(principal(), None))

    assert [error.audited for error in storm] == [True, False, False, False, False]
    assert other.audited
    assert next_window.audited
    assert admission.rejections == {"r": 7}


async def test_audit_suppression_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("opp.admission.limiter._MAX_TRACKED", 3)
    admission = Admission(AdmissionPlan(request_rules=(rule("r", ("key",), "1/hour"),)))
    for name in "abcde":
        await admission.check_request(principal(name), None)
        assert (await refusal(admission.check_request(principal(name), None))).audited

    assert len(admission._quiet_until) <= 3


async def test_an_unreachable_storage_fails_closed(tmp_path: Path) -> None:
    broken = storage_from_string(f"sqlite:///{tmp_path}/no/such/dir.db", wrap_exceptions=True)
    admission = Admission(AdmissionPlan(request_rules=(rule("r", ("key",), "1/hour"),)), storage=broken)

    error = await refusal(admission.check_request(principal(), None))

    assert error.code is ReasonCode.UNAVAILABLE
    assert error.status == 503


async def test_without_rules_no_storage_is_opened() -> None:
    admission = Admission(AdmissionPlan(storage_uri="redis://127.0.0.1:1"))

    await admission.check_request(principal(), None)
    await admission.check_tool("ledger.list", principal(), None)
    assert admission.rejections == {}


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window", "sliding-window-counter"])
async def test_every_strategy_refuses_past_the_quota(strategy: str) -> None:
    plan = AdmissionPlan(strategy=strategy, request_rules=(rule("r", ("key",), "2/hour"),))  # type: ignore[arg-type]
    admission = Admission(plan)
    await admission.check_request(principal(), None)
    await admission.check_request(principal(), None)

    error = await refusal(admission.check_request(principal(), None))

    assert error.headers is not None
    assert error.headers["RateLimit-Policy"] == '"r";q=2;w=3600'
    assert 1 <= int(error.headers["Retry-After"]) <= 3600


async def test_peek_reports_every_counter_without_consuming(counters: SqliteStorage, now: FakeTime) -> None:
    deletes = rule("deletes", ("key",), "5/minute", frozenset({"transaction.delete"}))
    plan = AdmissionPlan(
        request_rules=(rule("per-key-ip", ("key", "ip"), "3/minute"),),
        tool_rules={"transaction.delete": (deletes,)},
    )
    admission = Admission(plan, storage=counters, timer=now)
    await admission.check_request(principal(), "10.0.0.1")
    now.at += 15

    states = admission.peek(principal(), "10.0.0.1", "transaction.delete")
    again = admission.peek(principal(), "10.0.0.1", "transaction.delete")

    assert [(s.rule.id, s.remaining, s.reset_in) for s in states] == [
        ("per-key-ip", 2, 45),
        ("deletes", 5, 0),
    ]
    assert again == states
    assert admission.peek(principal(), "10.0.0.1") == states[:1]
    assert Admission(AdmissionPlan()).peek(principal(), None) == []


async def test_refusals_are_counted_in_the_metrics() -> None:
    from opp.observability.metrics import RECORDER

    RECORDER.drain()
    plan = AdmissionPlan(tool_rules={"ledger.list": (rule("lists", ("tool",), "1/hour"),)})
    admission = Admission(plan)
    await admission.check_tool("ledger.list", principal(), None)
    await refusal(admission.check_tool("ledger.list", principal("bob"), None))

    assert RECORDER.drain().rate_limited == {("lists", "ledger.list"): 1}
