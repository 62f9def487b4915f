"""The agent-plane engine: the SPEC §4 pipeline for discovery and read tools.

Framework-free: the HTTP layer hands over an :class:`IncomingRequest` and raw input, and gets back
the ``data`` of a success envelope or an :class:`~opp.errors.OppError`. Every outcome is audited
here, exactly once, including credential failures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from opp.audit.writer import AuditWriter
from opp.auth.keys import KeyAuthenticator
from opp.auth.network import client_ip, ip_allowed
from opp.auth.principal import Principal
from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.compile.plan import Plan, ToolPlan
from opp.engine.activation import app_policy_data, build_activation
from opp.engine.auditing import AuditScope
from opp.engine.decision import decide, discoverable
from opp.engine.request import IncomingRequest
from opp.engine.shaping import filter_items, redact
from opp.errors import OppError
from opp.store.records import AppRecord
from opp.tools.api import CallContext, Invoker, ToolCall

__all__ = ["AgentEngine"]

_NOT_ACCESSIBLE = "Resource is not accessible."


class AgentEngine:
    def __init__(
        self, plan: Plan, authenticator: KeyAuthenticator, audit: AuditWriter, clock: Clock, ids: IdFactory
    ) -> None:
        self.plan = plan
        self._authenticator = authenticator
        self._audit = audit
        self._clock = clock
        self._ids = ids

    def _scope(self, action: str, request: IncomingRequest, tool: str | None) -> AuditScope:
        return AuditScope(self._audit, self._clock, self._ids, action=action, request=request, tool=tool)

    async def _admit(self, request: IncomingRequest, scope: AuditScope) -> Principal:
        """Steps 1-5: credential, key, app and actor, network."""
        if request.credential_in_query:
            raise OppError(ReasonCode.TOKEN_INVALID, "Credentials are not accepted in the query string.")
        principal = await self._authenticator.authenticate(request.authorization)
        scope.principal = principal
        if principal.key is not None:
            self._audit.touch_key(principal.key.id, request.received_at)
        scope.ip = ip = client_ip(request.peer, request.forwarded_for, self.plan.trusted_proxies)
        allowlist = tuple(principal.app.policy.get("network", {}).get("allowed_ips") or ())
        if not ip_allowed(ip, allowlist):
            raise OppError(ReasonCode.POLICY_DENIED, "Client address is not allowed for this app.")
        return principal

    async def manifest(self, request: IncomingRequest) -> dict[str, Any]:
        scope = self._scope("agent.manifest.read", request, None)
        try:
            principal = await self._admit(request, scope)
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
        principal = Principal.of_app(app, None)
        return self._visible_tools(principal, request, None)

    async def read(self, tool: ToolPlan, request: IncomingRequest, raw_args: dict[str, Any]) -> Any:
        scope = self._scope(tool.audit_action, request, tool.name)
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
        principal = await self._admit(request, scope)
        if not tool.required_scopes <= principal.scopes:
            missing = sorted(tool.required_scopes - principal.scopes)
            raise OppError(ReasonCode.SCOPE_DENIED, "Missing scope.", {"missingScopes": missing})
        args = tool.validate_input(raw_args)
        context = CallContext(
            request_id=request.request_id,
            app_id=principal.app.id,
            key_id=principal.key_id,
            actor_user_id=principal.actor_user_id,
            tenant=principal.tenant,
            app_policy=app_policy_data(self.plan, principal),
            now=request.received_at,
        )
        resource = await self._tenant_resource(tool, args, principal, context)
        if not tool.uses_cel:
            return await self._call(tool.backend, ToolCall(operation=tool.name, args=args, context=context))
        activation = build_activation(self.plan, principal, request, scope.ip, tool, args, resource)
        decide(tool, activation, scope.matched)
        result = await self._call(tool.backend, ToolCall(operation=tool.name, args=args, context=context))
        if tool.filter_items is not None:
            result = filter_items(result, tool.filter_items, activation)
        if tool.redactions:
            result, redacted = redact(result, tool.redactions, activation)
            if redacted:
                scope.details = {"redacted_fields": redacted}
        return result

    async def _call(self, invoker: Invoker, call: ToolCall) -> Any:
        """Call a backend within ``gateway.request_timeout`` (504 ``agent.upstream_unavailable``)."""
        try:
            async with asyncio.timeout(self.plan.request_timeout_s):
                return await invoker(call)
        except TimeoutError:
            raise OppError(ReasonCode.UPSTREAM_UNAVAILABLE, "Tool backend timed out.", status=504) from None

    async def _tenant_resource(
        self, tool: ToolPlan, args: dict[str, Any], principal: Principal, context: CallContext
    ) -> dict[str, Any] | None:
        """Resolve the resource server-side and enforce the tenant boundary (SPEC §4 step 8).

        An unknown resource and another tenant's resource give the same denial: no existence oracle.
        """
        spec = tool.resource
        if spec is None:
            return None
        resource_id = args.get(spec.id_arg)
        found = await self._call(
            spec.lookup, ToolCall(operation=spec.type, args={"id": resource_id}, context=context)
        )
        if (
            not isinstance(found, dict)
            or principal.tenant is None
            or found.get(spec.tenant_field) != principal.tenant
        ):
            raise OppError(ReasonCode.POLICY_DENIED, _NOT_ACCESSIBLE)
        return found
