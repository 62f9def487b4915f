"""The agent-plane engine: the SPEC §4 pipeline for discovery and read tools.

Framework-free: the HTTP layer hands over an :class:`IncomingRequest` and raw input, and gets back
the ``data`` of a success envelope or an :class:`~opp.errors.OppError`. Every outcome is audited
here, exactly once, including credential failures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opp.auth.principal import Principal
from opp.compile.plan import ToolPlan
from opp.engine.activation import build_activation
from opp.engine.auditing import AuditScope
from opp.engine.authorizer import Authorizer
from opp.engine.decision import discoverable
from opp.engine.request import IncomingRequest
from opp.engine.shaping import filter_items, redact
from opp.errors import OppError
from opp.store.records import AppRecord
from opp.tools.api import ToolCall

__all__ = ["AgentEngine", "shape_result"]


class AgentEngine:
    def __init__(self, authorizer: Authorizer) -> None:
        self.plan = authorizer.plan
        self._auth = authorizer

    async def manifest(self, request: IncomingRequest) -> dict[str, Any]:
        scope = self._auth.scope("agent.manifest.read", request, None)
        try:
            principal = await self._auth.admit(request, scope)
            tools = self._visible_tools(principal, request, scope.ip)
        except OppError as error:
            scope.failure(error)
            raise
        scope.details = {"tools": len(tools)}
        scope.success()
        app = principal.app
        return {
            "app": {"id": app.id, "name": app.name, "scope": app.scope, "orgId": app.org_id},
            "tools": tools,
        }

    def _visible_tools(
        self, principal: Principal, request: IncomingRequest, ip: str | None
    ) -> list[Mapping[str, Any]]:
        base = build_activation(self.plan, principal, request, ip, None)
        return [
            tool.manifest_entry
            for tool in self.plan.tools
            if discoverable(tool, {**base, "tool": tool.cel_tool}, principal.scopes)
        ]

    def tools_for_app(self, app: AppRecord, request: IncomingRequest) -> list[Mapping[str, Any]]:
        """The manifest an app's agents would see (admin ``GET apps/{id}/tools``)."""
        return self._visible_tools(Principal.of_app(app, None), request, None)

    async def read(self, tool: ToolPlan, request: IncomingRequest, raw_args: dict[str, Any]) -> Any:
        scope = self._auth.scope(tool.audit_action, request, tool.name)
        try:
            result = await self._read(tool, request, raw_args, scope)
        except OppError as error:
            scope.failure(error)
            raise
        scope.success()
        return result

    async def _read(
        self, tool: ToolPlan, request: IncomingRequest, raw_args: dict[str, Any], scope: AuditScope
    ) -> Any:
        principal = await self._auth.admit(request, scope)
        allowed = await self._auth.authorize(tool, request, principal, raw_args, scope)
        call = ToolCall(operation=tool.name, args=allowed.args, context=allowed.context)
        result = await self._auth.call(tool.backend, call)
        if allowed.activation is not None:
            result = shape_result(tool, result, allowed.activation, scope)
        return result


def shape_result(tool: ToolPlan, result: Any, activation: dict[str, Any], scope: AuditScope) -> Any:
    """Item filters, then redaction (the redacted paths go in the audit event)."""
    if tool.filter_items is not None:
        result = filter_items(result, tool.filter_items, activation)
    if tool.redactions:
        result, redacted = redact(result, tool.redactions, activation)
        if redacted:
            scope.details = {**scope.details, "redacted_fields": redacted}
    return result
