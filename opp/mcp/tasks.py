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
from mcp.shared.exceptions import MCPError
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
_INVALID_PARAMS = -32602
_MISSING_CAPABILITY = -32021
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


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


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
        status, outcome = _state(draft, execution)
        task: dict[str, Any] = {
            "taskId": draft["id"],
            "status": status,
            "statusMessage": _message(draft, execution, status),
            "createdAt": _iso(draft["created_at"]),
            "lastUpdatedAt": _iso(draft["updated_at"]),
            "ttlMs": None,
        }
        if status == "working":
            created = dt.datetime.fromisoformat(_iso(draft["created_at"]))
            expires = dt.datetime.fromisoformat(_iso(draft["expires_at"]))
            task["ttlMs"] = max(0, int((expires - created).total_seconds() * 1000))
            task["pollIntervalMs"] = self._poll_ms
        if outcome is not None:
            task["result"] = outcome.model_dump(by_alias=True, mode="json", exclude_none=True)
        return task


def _state(
    draft: dict[str, Any], execution: dict[str, Any] | None
) -> tuple[str, types.CallToolResult | None]:
    status = draft["status"]
    if status == "canceled" and draft.get("failure_code") == "withdrawn":
        return "cancelled", None
    if status == "draft" or (execution is None and status == "confirmed"):
        return "working", None
    if execution is not None and execution["status"] == "started":
        return "working", None
    if execution is not None and execution["status"] == "success":
        return "completed", success({"status": "executed", "draft": draft, "execution": execution})
    return "completed", error_result(_refusal(draft, execution))


def _refusal(draft: dict[str, Any], execution: dict[str, Any] | None) -> OppError:
    """Why a decided draft produced no result, as the OPP error an agent can act on."""
    details = {"draftId": draft["id"], "status": draft["status"], "reason": draft.get("failure_code")}
    error = (execution or {}).get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        try:
            code = ReasonCode(error["code"])
        except ValueError:
            code = ReasonCode.EXECUTION_FAILED
        return OppError(code, str(error.get("message", "")), {**details, "executionId": execution["id"]})  # type: ignore[index]
    if execution is not None and execution["status"] == "unknown":
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


def _message(draft: dict[str, Any], execution: dict[str, Any] | None, status: str) -> str:
    if status == "cancelled":
        return "The agent withdrew the draft."
    if status == "working":
        if execution is not None:
            return "Approved; the action is running."
        return f"Waiting for a reviewer to approve draft {draft['id']}."
    if execution is not None and execution["status"] == "success":
        return "Approved and executed."
    return _refusal(draft, execution).message


def _require_extension(ctx: Context) -> None:
    if not declares_tasks(ctx):
        raise MCPError(
            _MISSING_CAPABILITY,
            "Missing required client capability",
            {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
        )


def _task_error(exchange: Any, error: OppError) -> MCPError:
    """An unknown (or another app's) task is ``-32602``; a credential or quota refusal keeps the
    HTTP-level answer every other method gets."""
    if error.code is ReasonCode.DRAFT_NOT_FOUND:
        return MCPError(_INVALID_PARAMS, "Failed to retrieve task: Task not found", envelope(error))
    return protocol_error(exchange, error)
