"""How a draft (and its latest execution) reads as an MCP task, for every draft outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opp.compile import compile_file
from opp.mcp.catalogue import Catalogue
from opp.mcp.tasks import TaskBinding

CREATED = "2026-12-01T10:00:00Z"


def draft(status: str, failure_code: str | None = None) -> dict[str, Any]:
    return {
        "id": "drf_1",
        "status": status,
        "failure_code": failure_code,
        "created_at": CREATED,
        "updated_at": "2026-12-01T10:05:00Z",
        "expires_at": "2026-12-02T10:00:00Z",
    }


def execution(status: str, error: dict[str, str] | None = None) -> dict[str, Any]:
    return {"id": "exe_1", "status": status, "result": {"ok": 1}, "error": error}


def task(d: dict[str, Any], e: dict[str, Any] | None = None) -> dict[str, Any]:
    return TaskBinding(writes=None, poll_interval_ms=2000)._task(d, e)  # type: ignore[arg-type]


def test_a_pending_draft_is_working_with_its_ttl_and_poll_interval() -> None:
    found = task(draft("draft"))
    assert found["status"] == "working"
    assert found["ttlMs"] == 24 * 3600 * 1000 and found["pollIntervalMs"] == 2000
    assert found["createdAt"] == CREATED and found["lastUpdatedAt"] == "2026-12-01T10:05:00Z"
    assert (
        "result" not in found and found["statusMessage"] == "Waiting for a reviewer to approve draft drf_1."
    )


def test_an_approved_draft_still_running_is_working() -> None:
    assert task(draft("confirmed"), execution("started"))["status"] == "working"
    assert task(draft("confirmed"))["status"] == "working"


def test_an_executed_draft_completes_with_the_execution_result() -> None:
    found = task(draft("confirmed"), execution("success"))
    assert found["status"] == "completed" and found["ttlMs"] is None and "pollIntervalMs" not in found
    assert found["result"]["isError"] is False
    assert found["result"]["structuredContent"]["execution"]["result"] == {"ok": 1}


@pytest.mark.parametrize(
    ("d", "e", "code", "reason"),
    [
        (draft("canceled", "rejected"), None, "agent.draft_already_final", "rejected"),
        (draft("expired"), None, "agent.draft_already_final", None),
        (
            draft("failed", "state_witness_mismatch"),
            execution("failed", {"code": "agent.precondition_failed", "message": "State changed."}),
            "agent.precondition_failed",
            "state_witness_mismatch",
        ),
        (
            draft("failed", "backend"),
            execution("failed", {"code": "not.an.opp.code", "message": "x"}),
            "agent.execution_failed",
            "backend",
        ),
        (draft("confirmed"), execution("unknown"), "agent.execution_failed", None),
    ],
)
def test_a_draft_decided_without_a_result_completes_as_a_tool_error(
    d: dict[str, Any], e: dict[str, Any] | None, code: str, reason: str | None
) -> None:
    found = task(d, e)
    assert found["status"] == "completed"
    result = found["result"]
    assert result["isError"] is True
    assert result["structuredContent"]["code"] == code
    assert result["structuredContent"]["details"]["reason"] == reason
    assert result["structuredContent"]["details"]["draftId"] == "drf_1"
    assert found["statusMessage"] == result["structuredContent"]["message"]


def test_a_withdrawn_draft_is_cancelled() -> None:
    found = task(draft("canceled", "withdrawn"))
    assert found["status"] == "cancelled" and "result" not in found


def test_action_tools_list_no_output_schema_reads_keep_theirs() -> None:
    plan = compile_file(Path(__file__).resolve().parents[3] / "gateway.yaml", environ={})
    listed = {tool.name: tool for tool in Catalogue(plan).listing([{"name": t.name} for t in plan.tools])}
    assert listed["ledger.list"].output_schema == {
        "type": "object",
        "properties": {"items": {"type": "array"}},
    }
    assert listed["transaction.create"].output_schema is None
