"""The SPEC §4 pipeline as reusable steps, shared by reads (``gateway.py``) and writes (``opp/writes``).

Order: credential → key/app/actor → network → scopes → input schema → tenant boundary → CEL.
Every step fails closed with a reason code; the caller's :class:`AuditScope` records who and why.
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Any, NamedTuple

from opp.admission import Admission
from opp.audit.writer import AuditWriter
from opp.auth.network import client_ip, ip_allowed
from opp.auth.principal import Principal
from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.compile.plan import Plan, ResourcePlan, ToolPlan
from opp.engine.activation import app_policy_data, build_activation
from opp.engine.auditing import AuditScope
from opp.engine.decision import decide
from opp.engine.request import IncomingRequest
from opp.errors import OppError, ValidationFailed
from opp.oauth.authenticator import AgentAuthenticator, with_challenge
from opp.oauth.plan import DpopMode
from opp.observability.metrics import RECORDER
from opp.tools.api import CallContext, Invoker, ToolCall

__all__ = [
    "NOT_ACCESSIBLE",
    "Authorized",
    "Authorizer",
    "allowed_ips",
    "check_network",
    "check_tenant",
]

NOT_ACCESSIBLE = "Resource is not accessible."


class Authorized(NamedTuple):
    """A call that passed every check, with what later steps need."""

    principal: Principal
    args: dict[str, Any]
    context: CallContext
    resource: dict[str, Any] | None
    activation: dict[str, Any] | None
    """The CEL activation, when the tool has rules, filters or redactions (else None)."""


class Authorizer:
    def __init__(
        self,
        plan: Plan,
        authenticator: AgentAuthenticator,
        audit: AuditWriter,
        clock: Clock,
        ids: IdFactory,
        admission: Admission | None = None,
    ) -> None:
        self.plan = plan
        self.audit = audit
        self.clock = clock
        self.ids = ids
        self._authenticator = authenticator
        self.admission = admission or Admission(plan.rate_limits)
        self.body_route_mode = _loosest(
            {t.dpop for t in plan.tools if t.kind == "action"} | {plan.oauth.dpop.mode}
        )
        """The DPoP mode a write route authenticates under before its body names the tool."""

    def scope(self, action: str, request: IncomingRequest, tool: str | None) -> AuditScope:
        return AuditScope(self.audit, self.clock, self.ids, action=action, request=request, tool=tool)

    def dpop_mode(self, tool_name: str | None) -> DpopMode:
        """The DPoP mode of a route: its tool's, else ``oauth.dpop.mode`` (discovery, drafts)."""
        tool = self.plan.tools_by_name.get(tool_name) if tool_name else None
        return tool.dpop if tool is not None else self.plan.oauth.dpop.mode

    async def admit(
        self, request: IncomingRequest, scope: AuditScope, mode: DpopMode | None = None
    ) -> Principal:
        """Steps 1-6: credential, key or token and its proof, app and actor, network, rate limits.

        ``mode``: the route's DPoP mode (default: that of the scope's tool, else the global one).
        """
        if mode is None:
            mode = self.dpop_mode(scope.tool)
        principal = await self._authenticator.authenticate(request, mode)
        scope.principal = principal
        if principal.key is not None:
            self.audit.touch_key(principal.key.id, request.received_at)
        scope.ip = ip = client_ip(request.peer, request.forwarded_for, self.plan.trusted_proxies)
        check_network(principal, ip)
        await self.admission.check_request(principal, ip)
        return principal

    async def admit_before_body(self, request: IncomingRequest, scope: AuditScope) -> Principal:
        """:meth:`admit` for a route whose tool is named in the body (``/preflight``, ``/actions``).

        The credential and its proof are verified before a byte of the body is parsed, under the
        loosest mode of the action tools; :meth:`enforce_tool_mode` then applies the tool's own.
        """
        return await self.admit(request, scope, self.body_route_mode)

    def enforce_tool_mode(self, principal: Principal, tool_name: str) -> None:
        """The DPoP mode of ``tool_name`` (else ``oauth.dpop.mode``) for an admitted principal."""
        self._authenticator.enforce_mode(principal, self.dpop_mode(tool_name))

    @staticmethod
    def check_scopes(tool: ToolPlan, granted: frozenset[str]) -> None:
        if not tool.required_scopes <= granted:
            missing = sorted(tool.required_scopes - granted)
            raise OppError(ReasonCode.SCOPE_DENIED, "Missing scope.", {"missingScopes": missing})

    @staticmethod
    def validate(
        tool: ToolPlan, raw_args: dict[str, Any], invalid_input: ReasonCode = ReasonCode.VALIDATION
    ) -> dict[str, Any]:
        """The tool's validated input (defaults filled); a failure carries ``invalid_input``."""
        try:
            return tool.validate_input(raw_args)
        except ValidationFailed as failed:
            if invalid_input is ReasonCode.VALIDATION:
                raise
            raise ValidationFailed(failed.issues, invalid_input) from None

    def context(
        self, request: IncomingRequest, principal: Principal, idempotency_key: str | None = None
    ) -> CallContext:
        return CallContext(
            request_id=request.request_id,
            app_id=principal.app.id,
            key_id=principal.key_id,
            actor_user_id=principal.actor_user_id,
            tenant=principal.tenant,
            app_policy=app_policy_data(self.plan, principal),
            now=request.received_at,
            idempotency_key=idempotency_key,
        )

    async def authorize(
        self,
        tool: ToolPlan,
        request: IncomingRequest,
        principal: Principal,
        raw_args: dict[str, Any],
        scope: AuditScope,
        *,
        invalid_input: ReasonCode = ReasonCode.VALIDATION,
        idempotency_key: str | None = None,
        admission: bool = True,
    ) -> Authorized:
        """Steps 7-8 for one tool call: scopes, input schema, tenant boundary, CEL rules.

        First, with ``admission``, the tool's own rate limits (step 6 for rules that involve a
        tool). An approved draft executed by an approver passes ``admission=False``.
        """
        if admission:
            await self.admission.check_tool(tool.name, principal, scope.ip)
        try:
            self.check_scopes(tool, principal.scopes)
        except OppError as denied:
            if principal.kind == "oauth":  # RFC 6750 §3.1: tell an OAuth client which scopes to ask for
                scheme = "dpop" if "jkt" in principal.binding else "bearer"
                needed = " ".join(sorted(tool.required_scopes))
                raise with_challenge(denied, self.plan.oauth, tool.dpop, scheme, needed) from None
            raise
        args = self.validate(tool, raw_args, invalid_input)
        context = self.context(request, principal, idempotency_key)
        resource = await self.tenant_resource(tool, args, principal, context)
        if not tool.uses_cel:
            return Authorized(principal, args, context, resource, None)
        started = perf_counter()
        try:
            activation = build_activation(self.plan, principal, request, scope.ip, tool, args, resource)
            decide(tool, activation, scope.matched)
        finally:
            RECORDER.policy(tool.name, perf_counter() - started)
        return Authorized(principal, args, context, resource, activation)

    async def call(self, invoker: Invoker, call: ToolCall) -> Any:
        """Call a backend within ``gateway.request_timeout`` (504 ``agent.upstream_unavailable``)."""
        started, outcome = perf_counter(), "error"
        try:
            if getattr(invoker, "can_block", True):
                async with asyncio.timeout(self.plan.request_timeout_s):
                    result = await invoker(call)
            else:  # an in-process synchronous function: a timeout could never interrupt it
                result = await invoker(call)
            outcome = "ok"
            return result
        except TimeoutError:
            outcome = "timeout"
            raise OppError(ReasonCode.UPSTREAM_UNAVAILABLE, "Tool backend timed out.", status=504) from None
        finally:
            RECORDER.backend(call.operation, outcome, perf_counter() - started)

    async def lookup(
        self, tool: ToolPlan, args: dict[str, Any], context: CallContext
    ) -> dict[str, Any] | None:
        """The tool's resource as the backend sees it now (None when it does not exist)."""
        spec = tool.resource
        if spec is None:
            return None
        call = ToolCall(operation=spec.type, args={"id": spec.id_of(args)}, context=context)
        found = await self.call(spec.lookup, call)
        return found if isinstance(found, dict) else None

    async def tenant_resource(
        self, tool: ToolPlan, args: dict[str, Any], principal: Principal, context: CallContext
    ) -> dict[str, Any] | None:
        """Resolve the resource server-side and enforce the tenant boundary (SPEC §4 step 8).

        An unknown resource and another tenant's resource give the same denial: no existence oracle.
        """
        spec = tool.resource
        if spec is None:
            return None
        return check_tenant(spec, await self.lookup(tool, args, context), principal)


def allowed_ips(principal: Principal) -> tuple[str, ...]:
    """The app's network allowlist (CIDRs); empty allows every address."""
    return tuple(principal.app.policy.get("network", {}).get("allowed_ips") or ())


def _loosest(modes: set[DpopMode]) -> DpopMode:
    """One mode that admits whatever any of ``modes`` admits (``allowed`` when they differ)."""
    return next(iter(modes)) if len(modes) == 1 else "allowed"


def check_network(principal: Principal, ip: str | None) -> None:
    """SPEC §4 step 5: the client address must be in the app's allowlist, when it has one."""
    if not ip_allowed(ip, allowed_ips(principal)):
        raise OppError(ReasonCode.POLICY_DENIED, "Client address is not allowed for this app.")


def check_tenant(spec: ResourcePlan, found: dict[str, Any] | None, principal: Principal) -> dict[str, Any]:
    """The looked-up resource, when it exists and belongs to the caller's tenant (else a denial)."""
    if found is None or principal.tenant is None or found.get(spec.tenant_field) != principal.tenant:
        raise OppError(ReasonCode.POLICY_DENIED, NOT_ACCESSIBLE)
    return found
