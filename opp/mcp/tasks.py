"""The MCP Tasks extension (``io.modelcontextprotocol/tasks``, 2026-07-28) over opp drafts.

A draft waiting for a human is exactly what the extension calls a task: work the server accepted
and will finish later. When a client declares the extension on a ``tools/call`` (its per-request
``clientCapabilities``) and the call creates a pending draft, the answer is a ``CreateTaskResult``
(``resultType: "task"``) whose ``taskId`` is the draft id; the REST-shaped draft response rides in
``_meta["openport/draft"]``. The client then polls:

* ``tasks/get`` → the draft as a task: ``working`` while it waits for approval (or runs);
  ``completed`` once decided, with the tool result inlined — the execution's result, or an
  ``isError`` result carrying the OPP reason code when the draft was rejected, expired or failed
  (the extension keeps ``failed`` for JSON-RPC faults, which a decided draft never is);
  ``cancelled`` when the agent withdrew it;
* ``tasks/cancel`` → withdraws the pending draft (``agent.draft.withdraw``); a draft already
  decided is acknowledged and keeps its outcome (cancellation is cooperative);
* ``tasks/update`` → acknowledged: a draft never asks the client for input, so there is nothing to
  answer.

Each goes through the write engine's own draft read or withdrawal, so it authenticates, is
rate-limited and audited like ``GET /drafts/{id}`` (marked with the JSON-RPC method), and a task of
another app is "not found" (``-32602``), as the extension requires for an unknown ``taskId``.
Clients that do not declare the extension keep getting the draft response and poll
``opp.draft.status``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver.server import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.mcp.exchange import exchange_of
from opp.mcp.results import envelope, error_result, protocol_error, success
from opp.writes.actions import WriteEngine

__all__ = ["DRAFT_META", "TASKS_EXTENSION", "TASK_METHODS", "TaskBinding", "declares_tasks"]

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
DRAFT_META = "openport/draft"
"""``_meta`` key of a ``CreateTaskResult``: the draft response a client without tasks would get."""
TASK_METHODS = frozenset({"tasks/get", "tasks/cancel", "tasks/update"})
Context = ServerRequestContext[Any, Any]


class TaskParams(types.RequestParams):
    task_id: str


class UpdateTaskParams(TaskParams):
    input_responses: dict[str, Any] = {}


def declares_tasks(ctx: Context) -> bool:
    """The client declared the extension on this request (only 2026-07-28 requests carry it)."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and TASKS_EXTENSION in capabilities.extensions)


class TaskBinding:
    """The three task methods, registered on the SDK server; the draft → task mapping."""

    def __init__(self, writes: WriteEngine, poll_interval_ms: int) -> None:
        self._writes = writes
        self._poll_ms = poll_interval_ms

    def register(self, server: Server[Any]) -> None:
        server.extensions[TASKS_EXTENSION] = {}
        server.add_request_handler("tasks/get", TaskParams, self.get)
        server.add_request_handler("tasks/cancel", TaskParams, self.cancel)
        server.add_request_handler("tasks/update", UpdateTaskParams, self.update)

    def created(self, data: dict[str, Any]) -> dict[str, Any]:
        """The ``CreateTaskResult`` for a ``tools/call`` that left a pending draft."""
        draft = data["draft"]
        return {
            "resultType": "task",
            **self._task(draft, None),
            "_meta": {DRAFT_META: data},
        }

    async def get(self, ctx: Context, params: TaskParams) -> dict[str, Any]:
        found = await self._draft(ctx, params)
        return {"resultType": "complete", **self._task(found["draft"], found["execution"])}

    async def cancel(self, ctx: Context, params: TaskParams) -> dict[str, Any]:
        _require_extension(ctx)
        exchange = exchange_of(ctx.request)
        request = exchange.for_message(ctx.method, ctx.request_id)
        try:
            await self._writes.withdraw(request, params.task_id)
        except OppError as error:
            if error.code is not ReasonCode.DRAFT_ALREADY_FINAL:  # decided already: keeps its outcome
                raise _task_error(exchange, error) from None
        return {"resultType": "complete"}

    async def update(self, ctx: Context, params: UpdateTaskParams) -> dict[str, Any]:
        await self._draft(ctx, params)
        return {"resultType": "complete"}

    async def _draft(self, ctx: Context, params: TaskParams) -> dict[str, Any]:
        _require_extension(ctx)
        exchange = exchange_of(ctx.request)
        try:
            request = exchange.for_message(ctx.method, ctx.request_id)
            return await self._writes.get_draft(request, params.task_id)
        except OppError as error:
            raise _task_error(exchange, error) from None

    def _task(self, draft: dict[str, Any], execution: dict[str, Any] | None) -> dict[str, Any]:
        status, message, outcome = _state(draft, execution)
        # the views hold timestamps as RFC 3339 strings
        task: dict[str, Any] = {
            "taskId": draft["id"],
            "status": status,
            "statusMessage": message,
            "createdAt": draft["created_at"],
            "lastUpdatedAt": draft["updated_at"],
            "ttlMs": None,
        }
        if status == "working":
            life = dt.datetime.fromisoformat(draft["expires_at"]) - dt.datetime.fromisoformat(
                draft["created_at"]
            )
            task["ttlMs"] = max(0, int(life.total_seconds() * 1000))
            task["pollIntervalMs"] = self._poll_ms
        if outcome is not None:
            task["result"] = outcome.model_dump(by_alias=True, mode="json", exclude_none=True)
        return task


def _state(
    draft: dict[str, Any], execution: dict[str, Any] | None
) -> tuple[str, str, types.CallToolResult | None]:
    """``(task status, status message, tool result)`` of a draft and its latest execution."""
    status = draft["status"]
    if status == "canceled" and draft.get("failure_code") == "withdrawn":
        return "cancelled", "The agent withdrew the draft.", None
    if status == "draft" or (execution is None and status == "confirmed"):
        return "working", f"Waiting for a reviewer to approve draft {draft['id']}.", None
    if execution is not None and execution["status"] == "started":
        return "working", "Approved; the action is running.", None
    if execution is not None and execution["status"] == "success":
        executed = {"status": "executed", "draft": draft, "execution": execution}
        return "completed", "Approved and executed.", success(executed)
    refusal = _refusal(draft, execution)
    return "completed", refusal.message, error_result(refusal)


def _refusal(draft: dict[str, Any], execution: dict[str, Any] | None) -> OppError:
    """Why a decided draft produced no result, as the OPP error an agent can act on."""
    details = {"draftId": draft["id"], "status": draft["status"], "reason": draft.get("failure_code")}
    if execution is not None:
        error = execution.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            try:
                code = ReasonCode(error["code"])
            except ValueError:
                code = ReasonCode.EXECUTION_FAILED
            return OppError(code, str(error.get("message", "")), {**details, "executionId": execution["id"]})
        if execution["status"] == "unknown":
            message = "The execution was interrupted; an operator must check whether it took effect."
            return OppError(ReasonCode.EXECUTION_FAILED, message, {**details, "executionId": execution["id"]})
    messages = {
        "rejected": "A reviewer rejected the draft; nothing was executed.",
        "expired": "Nobody approved the draft before it expired; nothing was executed.",
    }
    reason = "expired" if draft["status"] == "expired" else draft.get("failure_code") or draft["status"]
    return OppError(
        ReasonCode.DRAFT_ALREADY_FINAL, messages.get(reason, f"The draft is {draft['status']}."), details
    )


def _require_extension(ctx: Context) -> None:
    """``-32021`` with ``requiredCapabilities`` unless this request declares the extension."""
    if not declares_tasks(ctx):
        require_client_extension(ctx, TASKS_EXTENSION)  # raises: not declared for this request
        raise MCPError(MISSING_REQUIRED_CLIENT_CAPABILITY, "The Tasks extension needs protocol 2026-07-28")


def _task_error(exchange: Any, error: OppError) -> MCPError:
    """An unknown (or another app's) task is ``-32602``; a credential or quota refusal keeps the
    HTTP-level answer every other method gets."""
    if error.code is ReasonCode.DRAFT_NOT_FOUND:
        return MCPError(INVALID_PARAMS, "Failed to retrieve task: Task not found", envelope(error))
    return protocol_error(exchange, error)
