"""The MCP Tasks extension with the official Python SDK client: a client extension claims
``resultType: "task"`` (the SDK's ``ResultClaim``) and resolves it by polling ``tasks/get`` while a
reviewer decides the draft through the admin plane — the call the agent made returns the final
tool result, as the extension intends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Literal

import httpx
import mcp_types as types
import pytest
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp.shared.exceptions import MCPError
from pydantic import ConfigDict
from pydantic.alias_generators import to_camel

from tests.mcp_binding.support import ADMIN, admin_get, approve, mcp_client
from tests.mcp_binding.test_python_sdk import create_args, refusal
from tests.support.servers import RunningServer, mint_admin_token, mint_token

TASKS = "io.modelcontextprotocol/tasks"


class Task(types.Result):
    """The fields every task shape carries."""

    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class CreatedTask(Task):
    """``CreateTaskResult``: the task handle a tools/call may answer with."""

    result_type: Literal["task"] = "task"


class TaskState(Task):
    """A ``tasks/get`` result (``DetailedTask``)."""

    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Answer(types.Result):
    """Any result, every wire key kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class TaskRequest(types.Request[dict[str, Any], str]):
    name_param: ClassVar[str | None] = "taskId"


async def task_request(session: ClientSession, method: str, task_id: str) -> dict[str, Any]:
    request = TaskRequest(method=method, params={"taskId": task_id})
    answered: dict[str, Any] = (await session.send_request(request, Answer)).model_dump(
        by_alias=True, mode="json"
    )
    return answered


Decide = Callable[[CreatedTask, ClientSession], Awaitable[None]]


class DraftTasks(ClientExtension):
    """Resolves a task the way an agent would: poll until terminal, deciding it on first sight."""

    identifier = TASKS

    def __init__(self, decide: Decide) -> None:
        self.decide = decide
        self.created: list[CreatedTask] = []
        self.polls: list[TaskState] = []

    def claims(self) -> Sequence[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self.resolve)]

    async def resolve(self, task: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
        self.created.append(task)
        await self.decide(task, ctx.session)
        for _ in range(50):
            request = TaskRequest(method="tasks/get", params={"taskId": task.task_id})
            state = await ctx.session.send_request(request, TaskState)
            self.polls.append(state)
            if state.status == "completed":
                assert state.result is not None
                return types.CallToolResult.model_validate(state.result)
            if state.status in {"failed", "cancelled"}:
                return types.CallToolResult(
                    content=[], is_error=True, structured_content={"task": state.status}
                )
        raise AssertionError("the task never finished")


def reject(server: RunningServer, draft_id: str) -> None:
    response = httpx.post(
        f"{server.base_url}{ADMIN}/drafts/{draft_id}/reject",
        json={"note": "not this one"},
        headers={"Authorization": f"Bearer {mint_admin_token(server.config, 'approver')}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


async def test_server_discover_advertises_the_extension(mcp_server: RunningServer) -> None:
    async with mcp_client(mcp_server, mint_token(mcp_server.config), mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        assert client.server_capabilities.extensions == {TASKS: {}}


async def test_a_draft_is_a_task_that_completes_when_a_reviewer_approves(mcp_server: RunningServer) -> None:
    async def approve_it(task: CreatedTask, session: ClientSession) -> None:
        first = await task_request(session, "tasks/get", task.task_id)
        assert first["status"] == "working" and first["resultType"] == "complete"
        approve(mcp_server, task.task_id, "fine")

    tasks = DraftTasks(approve_it)
    async with mcp_client(
        mcp_server, mint_token(mcp_server.config), mode="2026-07-28", extensions=[tasks]
    ) as client:
        result = await client.call_tool("transaction.create", create_args(title="Task lunch"))
    created = tasks.created[0]
    assert created.task_id.startswith("drf") and created.status == "working"
    assert created.poll_interval_ms == 5000 and created.ttl_ms is not None and created.ttl_ms > 0
    draft = (created.meta or {})["openport/draft"]
    assert draft["status"] == "draft" and draft["draft"]["id"] == created.task_id
    assert draft["autoExecuteDeniedCode"] == "agent.auto_execute_disabled"
    assert draft["reviewUrl"].endswith(f"/drafts/{created.task_id}")
    assert result.is_error is False, result.structured_content
    assert result.structured_content is not None
    assert result.structured_content["status"] == "executed"
    assert result.structured_content["execution"]["status"] == "success"
    assert result.structured_content["execution"]["result"]["transaction"]["title"] == "[redacted]"
    reads = admin_get(mcp_server, "/audit", action="agent.draft.read")["items"]
    mine = [e for e in reads if e["draft_id"] == created.task_id]
    assert mine and {e["details"]["jsonrpc_method"] for e in mine} == {"tasks/get"}


async def test_a_rejected_draft_completes_as_a_tool_error_with_the_reason(mcp_server: RunningServer) -> None:
    async def reject_it(task: CreatedTask, session: ClientSession) -> None:
        reject(mcp_server, task.task_id)

    tasks = DraftTasks(reject_it)
    async with mcp_client(
        mcp_server, mint_token(mcp_server.config), mode="2026-07-28", extensions=[tasks]
    ) as client:
        result = await client.call_tool("transaction.create", create_args(title="Rejected lunch"))
    assert result.is_error is True
    assert result.structured_content is not None
    assert result.structured_content["code"] == "agent.draft_already_final"
    assert result.structured_content["details"]["reason"] == "rejected"
    assert tasks.polls[-1].status == "completed" and tasks.polls[-1].poll_interval_ms is None


async def test_tasks_cancel_withdraws_the_pending_draft(mcp_server: RunningServer) -> None:
    async def cancel_it(task: CreatedTask, session: ClientSession) -> None:
        assert (await task_request(session, "tasks/cancel", task.task_id))["resultType"] == "complete"
        # a second cancel of the now-final draft is still acknowledged (cancellation is cooperative)
        await task_request(session, "tasks/cancel", task.task_id)
        assert (await task_request(session, "tasks/update", task.task_id))["resultType"] == "complete"

    tasks = DraftTasks(cancel_it)
    async with mcp_client(
        mcp_server, mint_token(mcp_server.config), mode="2026-07-28", extensions=[tasks]
    ) as client:
        result = await client.call_tool("transaction.create", create_args(title="Withdrawn lunch"))
    assert result.structured_content == {"task": "cancelled"}
    draft_id = tasks.created[0].task_id
    detail = admin_get(mcp_server, f"/drafts/{draft_id}")
    assert detail["draft"]["status"] == "canceled" and detail["draft"]["failure_code"] == "withdrawn"


async def test_no_task_without_the_extension_and_no_task_methods_either(mcp_server: RunningServer) -> None:
    token = mint_token(mcp_server.config)
    async with mcp_client(mcp_server, token, mode="2026-07-28") as client:
        plain = await client.call_tool("transaction.create", create_args(title="Plain lunch"))
        assert plain.structured_content is not None and plain.structured_content["status"] == "draft"
        draft_id = plain.structured_content["draft"]["id"]
        with pytest.raises(MCPError) as undeclared:
            await task_request(client.session, "tasks/get", draft_id)
    assert undeclared.value.error.code == -32021
    assert undeclared.value.error.data == {"requiredCapabilities": {"extensions": {TASKS: {}}}}
    async with mcp_client(mcp_server, token) as legacy:  # 2025-11-25: no per-request capabilities
        older = await legacy.call_tool("transaction.create", create_args(title="Legacy lunch"))
    assert older.structured_content is not None and older.structured_content["status"] == "draft"


async def test_an_unknown_or_foreign_task_is_invalid_params(mcp_server: RunningServer) -> None:
    async def nothing(task: CreatedTask, session: ClientSession) -> None:
        return None

    async with mcp_client(mcp_server, mint_token(mcp_server.config), mode="2026-07-28") as owner:
        own = await owner.call_tool("transaction.create", create_args(title="Owner lunch"))
    assert own.structured_content is not None
    draft_id = own.structured_content["draft"]["id"]
    other = mint_token(mcp_server.config, "app_reader")
    async with mcp_client(mcp_server, other, mode="2026-07-28", extensions=[DraftTasks(nothing)]) as client:
        for task_id in (draft_id, "drf_nope"):
            with pytest.raises(BaseException) as refused:
                await task_request(client.session, "tasks/get", task_id)
            error = refusal(refused.value).error
            assert error.code == -32602 and error.message == "Failed to retrieve task: Task not found"
            assert error.data["code"] == "agent.draft_not_found"
