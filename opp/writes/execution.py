"""Executing a draft (SPEC §7.6): State Witness revalidation, the backend call, and the record.

The caller has already re-checked scope and policy and atomically moved the draft to
``confirmed`` with a ``started`` execution (so at most one execution per draft, per idempotency
key). Here: recompute the witness — a tool without witness support, a vanished resource or a
different hash fails closed with ``409 agent.precondition_failed``, no backend call, the draft
``failed`` — then call the backend and commit the execution, the draft status and the audit event
together. Backend errors are sanitised: the record holds only ``{code, message}``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from opp.codes import ReasonCode
from opp.compile.plan import CsvPlan, ToolPlan
from opp.engine.auditing import AuditScope
from opp.engine.authorizer import Authorizer
from opp.engine.gateway import shape_result
from opp.errors import OppError
from opp.store.protocols import Store
from opp.store.write_records import DraftRecord, ExecutionRecord
from opp.tools.api import CallContext, ToolCall
from opp.writes.events import WriteEvents
from opp.writes.jcs import witness_hash

__all__ = ["Executor", "render_csv"]


def render_csv(result: Any, plan: CsvPlan) -> dict[str, Any]:
    """``{csv, rows, contentType}`` from the list at ``plan.path`` (after redaction)."""
    items = result.get(plan.path, []) if isinstance(result, dict) else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(plan.columns)
    for item in items:
        writer.writerow(["" if item.get(c) is None else item.get(c) for c in plan.columns])
    return {"csv": buffer.getvalue(), "rows": len(items), "contentType": "text/csv"}


class Executor:
    def __init__(self, auth: Authorizer, store: Store) -> None:
        self._auth = auth
        self._store = store

    async def _witness_problem(self, tool: ToolPlan, draft: DraftRecord, context: CallContext) -> str | None:
        expected = draft.preflight_state_witness_hash
        if expected is None:
            return None
        if tool.witness is None:
            return "state_witness_unsupported"
        resource = await self._auth.lookup(tool, draft.payload, context)
        call = ToolCall(operation=tool.name, args=draft.payload, context=context)
        current = await tool.witness.compute(draft.payload, resource, call)
        if current is None or witness_hash(current) != expected:
            return "state_witness_mismatch"
        return None

    async def execute(
        self,
        tool: ToolPlan,
        draft: DraftRecord,
        execution: ExecutionRecord,
        context: CallContext,
        events: WriteEvents,
        activation: dict[str, Any] | None,
        scope: AuditScope,
    ) -> ExecutionRecord:
        """Run a started execution to its end; raise the sanitised error when it fails."""
        clock = self._auth.clock
        problem = await self._witness_problem(tool, draft, context)
        if problem is not None:
            error = {
                "code": ReasonCode.PRECONDITION_FAILED.value,
                "message": "State changed since the draft.",
            }
            failed = _finished(execution, "failed", None, error, clock.now())
            await self._store.writes.finish_execution(
                failed,
                {"status": "failed", "failure_code": problem, "updated_at": clock.now()},
                [
                    events.for_draft(
                        draft,
                        "agent.action.execute",
                        status="denied",
                        code=ReasonCode.PRECONDITION_FAILED,
                        execution_id=execution.id,
                        details={"reason": problem},
                    )
                ],
            )
            raise OppError(
                ReasonCode.PRECONDITION_FAILED,
                "The resource changed since the draft was created; nothing was executed.",
                {"reason": problem, "draftId": draft.id},
            )
        call = ToolCall(operation=tool.name, args=draft.payload, context=context)
        try:
            result = await self._auth.call(tool.backend, call)
        except OppError as backend_error:
            error = {"code": backend_error.code.value, "message": backend_error.message}
            failed = _finished(execution, "failed", None, error, clock.now())
            await self._store.writes.finish_execution(
                failed,
                {"status": "failed", "failure_code": backend_error.code.value, "updated_at": clock.now()},
                [
                    events.for_draft(
                        draft,
                        "agent.action.execute",
                        status="failed",
                        code=backend_error.code,
                        execution_id=execution.id,
                    )
                ],
            )
            backend_error.details = {
                **(backend_error.details or {}),
                "draftId": draft.id,
                "executionId": execution.id,
            }
            raise
        if activation is not None:
            result = shape_result(tool, result, activation, scope)
        if tool.csv is not None:
            result = render_csv(result, tool.csv)
        done = _finished(execution, "success", result, None, clock.now())
        details = (
            {"redacted_fields": scope.details["redacted_fields"]}
            if "redacted_fields" in scope.details
            else {}
        )
        await self._store.writes.finish_execution(
            done,
            {"updated_at": clock.now()},
            [events.for_draft(draft, "agent.action.execute", execution_id=execution.id, details=details)],
        )
        return done


def _finished(
    execution: ExecutionRecord, status: str, result: Any, error: dict[str, Any] | None, at: Any
) -> ExecutionRecord:
    return ExecutionRecord(
        id=execution.id,
        draft_id=execution.draft_id,
        app_id=execution.app_id,
        idempotency_key=execution.idempotency_key,
        status=status,  # type: ignore[arg-type]
        result=result,
        error=error,
        created_at=execution.created_at,
        finished_at=at,
    )
