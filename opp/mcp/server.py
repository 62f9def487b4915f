"""The MCP server: SDK request handlers that hand every request to the engine.

* ``tools/list`` → :meth:`AgentEngine.manifest` (authorization-dependent discovery);
* ``tools/call`` of a read → :meth:`AgentEngine.read`; of an action → :meth:`WriteEngine.submit`
  (draft, auto-execute window, idempotency, State Witness); ``opp.preflight`` →
  :meth:`WriteEngine.preflight`; ``opp.draft.status`` → :meth:`WriteEngine.get_draft`;
* every other request (``initialize``, ``ping``, …) → :meth:`Authorizer.admit` first: a credential
  is needed for every request, as MCP authorization requires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import mcp_types as types
import msgspec
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError

from opp.codes import ReasonCode
from opp.compile.plan import Plan
from opp.config.durations import parse_duration
from opp.engine.authorizer import Authorizer
from opp.engine.gateway import AgentEngine
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.mcp.catalogue import DRAFT_STATUS_TOOL, PREFLIGHT_TOOL, WRITE_META, Catalogue
from opp.mcp.exchange import exchange_of
from opp.mcp.results import denied_call, protocol_error, success
from opp.mcp.tasks import TASK_METHODS, TaskBinding, declares_tasks
from opp.writes.actions import BodyReader, WriteEngine
from opp.writes.requests import ActionBody, PreflightBody

__all__ = ["WriteControls", "build_server"]

_log = logging.getLogger("opp.mcp")
logging.getLogger("mcp").setLevel(logging.WARNING)
"""The SDK logs every stateless request at INFO ("Terminating session: None"); opp logs its own."""
_SELF_ADMITTING = frozenset({"tools/list", "tools/call"}) | TASK_METHODS
"""Methods whose engine call authenticates (and audits) the request itself."""
Context = ServerRequestContext[Any, Any]
Arguments = dict[str, Any] | None
RawParams = Mapping[str, Any] | None
B = TypeVar("B", PreflightBody, ActionBody)


class WriteControls(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    """``_meta["openport/write"]`` of an action tool call: the REST ``POST /actions`` controls.

    ``execute`` defaults to true over MCP (calling a tool asks for its effect); without an open
    auto-execute window the call still only creates a draft (a soft denial, docs/WRITES.md).
    """

    execute: bool = True
    force_draft: bool = False
    preflight_id: str | None = None
    preflight_hash: str | None = None
    idempotency_key: str | None = None
    justification: str | None = None
    state_witness_hash: str | None = None
    request_id: str | None = None


class _Handlers:
    def __init__(
        self,
        plan: Plan,
        authorizer: Authorizer,
        engine: AgentEngine,
        writes: WriteEngine,
        tasks: TaskBinding | None,
    ) -> None:
        self._plan = plan
        self._auth = authorizer
        self._engine = engine
        self._writes = writes
        self._tasks = tasks
        self._catalogue = Catalogue(plan)

    async def admit(self, ctx: Context, call_next: CallNext) -> HandlerResult:
        """Middleware: a credential for every request the engine does not admit itself."""
        if ctx.request_id is not None and ctx.method not in _SELF_ADMITTING:
            exchange = exchange_of(ctx.request)
            request = exchange.for_message(ctx.method, ctx.request_id)
            scope = self._auth.scope(f"agent.mcp.{ctx.method}", request, None)
            try:
                await self._auth.admit(request, scope)
            except OppError as error:
                scope.failure(error)
                raise protocol_error(exchange, error) from None
        return await call_next(ctx)

    async def list_tools(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        exchange = exchange_of(ctx.request)
        try:
            manifest = await self._engine.manifest(exchange.for_message(ctx.method, ctx.request_id))
        except OppError as error:
            raise protocol_error(exchange, error) from None
        return types.ListToolsResult(tools=self._catalogue.listing(manifest["tools"]))

    async def call_tool(
        self, ctx: Context, params: types.CallToolRequestParams
    ) -> types.CallToolResult | dict[str, Any]:
        exchange = exchange_of(ctx.request)
        request = exchange.for_message(ctx.method, ctx.request_id)
        try:
            data = await self._call(request, params.name, params.arguments, ctx.params)
            if self._tasks is not None and _pending_draft(data) and declares_tasks(ctx):
                return self._tasks.created(data)
            return success(data)
        except OppError as error:
            return denied_call(exchange, error)
        except MCPError:
            raise
        except Exception as exc:  # a backend bug must not take the connection down
            _log.error(
                "internal error in tools/call %s (request %s)", params.name, request.request_id, exc_info=exc
            )
            return denied_call(exchange, OppError(ReasonCode.INTERNAL_ERROR, "Internal error."))

    async def _call(self, request: IncomingRequest, name: str, arguments: Arguments, raw: RawParams) -> Any:
        if name == PREFLIGHT_TOOL:
            return await self._writes.preflight(request, _after_admission(lambda: _preflight_body(arguments)))
        if name == DRAFT_STATUS_TOOL:
            draft_id = (arguments or {}).get("draftId")
            # not a string: an unknown draft, answered after the credential like any other
            return await self._writes.get_draft(request, draft_id if isinstance(draft_id, str) else "")
        tool = self._plan.tools_by_name.get(name)
        if tool is not None and not tool.writes:
            return await self._engine.read(tool, request, arguments or {})
        return self._with_review_url(await self._submit(request, name, arguments, raw))

    async def _submit(
        self, request: IncomingRequest, name: str, arguments: Arguments, raw: RawParams
    ) -> dict[str, Any]:
        """An action tool (or an unknown name, refused by the write engine after admission)."""
        return await self._writes.submit(
            request, _after_admission(lambda: _action_body(name, arguments, raw)), None
        )

    def _with_review_url(self, data: dict[str, Any]) -> dict[str, Any]:
        review = data.get("review_path")
        if isinstance(review, str):
            return {**data, "reviewUrl": self._plan.oauth.public_url + review}
        return data


def _pending_draft(data: Any) -> bool:
    """An action call (or its replay) that left a draft waiting for a reviewer."""
    return isinstance(data, dict) and data.get("status") == "draft" and isinstance(data.get("draft"), dict)


def _after_admission(build: Callable[[], B]) -> BodyReader[B]:
    """The write engine reads the body once the credential passed: ``build`` checks the arguments
    the SDK parsed at that point, so an unauthenticated call is a 401 whatever its arguments."""

    async def read() -> B:
        return build()

    return read


def _preflight_body(arguments: Arguments) -> PreflightBody:
    args = arguments or {}
    action, payload = args.get("action"), args.get("arguments")
    if not isinstance(action, str) or (payload is not None and not isinstance(payload, dict)):
        raise OppError(ReasonCode.VALIDATION, "opp.preflight needs an action and object arguments.")
    return PreflightBody(action=action, payload=payload or {})


def _action_body(name: str, arguments: Arguments, raw: RawParams) -> ActionBody:
    controls = _controls(raw)
    return ActionBody(
        action=name,
        payload=arguments if arguments or controls.preflight_id is None else None,
        preflight_id=controls.preflight_id,
        execute=controls.execute,
        force_draft=controls.force_draft,
        request_id=controls.request_id,
        idempotency_key=controls.idempotency_key,
        justification=controls.justification,
        preflight_hash=controls.preflight_hash,
        state_witness_hash=controls.state_witness_hash,
    )


def _controls(raw: Mapping[str, Any] | None) -> WriteControls:
    meta = (raw or {}).get("_meta")
    found = meta.get(WRITE_META) if isinstance(meta, dict) else None
    if found is None:
        return WriteControls()
    try:
        return msgspec.convert(found, WriteControls)
    except msgspec.ValidationError as exc:
        raise OppError(ReasonCode.VALIDATION, f"Invalid _meta['{WRITE_META}']: {exc}") from None


def build_server(plan: Plan, authorizer: Authorizer, engine: AgentEngine, writes: WriteEngine) -> Server[Any]:
    """The SDK server for ``plan``: tools only (no resources, prompts or sampling)."""
    mcp = plan.config.mcp
    tasks = TaskBinding(writes, int(parse_duration(mcp.task_poll_interval) * 1000)) if mcp.tasks else None
    handlers = _Handlers(plan, authorizer, engine, writes, tasks)
    server: Server[Any] = Server(
        plan.config.gateway.name,
        version="0.1.0",
        instructions=(
            "Tools governed by an OpenPort gateway: the list depends on your credential. Action tools "
            "create drafts for human review unless an auto-execute window is open; poll them with "
            f"{DRAFT_STATUS_TOOL}."
        ),
        on_list_tools=handlers.list_tools,
    )
    # The SDK's OpenTelemetry middleware is replaced: opp traces and meters requests itself.
    server.middleware = [handlers.admit]
    # Registered directly: with the Tasks extension a call may answer a CreateTaskResult mapping.
    server.add_request_handler("tools/call", types.CallToolRequestParams, handlers.call_tool)
    if tasks is not None:
        tasks.register(server)
    return server
