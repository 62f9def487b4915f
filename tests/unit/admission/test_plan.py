"""With several workers, process-local counters are replaced by a file every worker shares."""

from __future__ import annotations

import limits
import pytest

from opp.admission import AdmissionPlan, LimitRule, shared_storage_uri

RULE = LimitRule(id="per-key-ip", per=("key", "ip"), item=limits.parse("240/minute"))
TOOL_RULE = LimitRule(id="exports", per=("key",), item=limits.parse("1/minute"), tools=frozenset({"x"}))


def test_one_worker_keeps_memory() -> None:
    plan = AdmissionPlan(request_rules=(RULE,))

    assert plan.for_workers(1, "/srv/opp.db") is plan


def test_several_workers_share_a_mapped_file_next_to_the_store() -> None:
    plan = AdmissionPlan(request_rules=(RULE,))

    shared = plan.for_workers(2, "/srv/opp.db")

    assert shared.storage_uri == "mmap:////srv/opp.db-ratelimits.counters"
    assert shared.request_rules == plan.request_rules
    assert not shared.process_local


def test_an_explicit_shared_storage_is_kept() -> None:
    plan = AdmissionPlan(storage_uri="redis://127.0.0.1:6379", request_rules=(RULE,))

    assert plan.for_workers(4, "/srv/opp.db") is plan


def test_without_rules_nothing_changes() -> None:
    plan = AdmissionPlan()

    assert not plan.enabled
    assert plan.for_workers(4, ":memory:") is plan


def test_tool_rules_alone_also_need_sharing() -> None:
    plan = AdmissionPlan(tool_rules={"x": (TOOL_RULE,)})

    assert plan.enabled
    assert plan.for_workers(2, "/srv/opp.db").storage_uri.startswith("mmap:///")


def test_moving_window_cannot_be_shared_through_a_file() -> None:
    plan = AdmissionPlan(strategy="moving-window", request_rules=(RULE,))

    with pytest.raises(ValueError, match="moving-window"):
        plan.for_workers(2, "/srv/opp.db")


def test_a_memory_store_has_no_file_to_share() -> None:
    with pytest.raises(ValueError, match="memory store"):
        shared_storage_uri(":memory:")
