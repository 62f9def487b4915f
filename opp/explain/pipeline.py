"""``explain()``: run the SPEC §4 pipeline for one hypothetical call, step by step, sending no traffic.

Every check is the engine's own (``opp.engine.authorizer``, ``decision``, ``activation``); this
module only records each step's outcome instead of stopping at the first failure. Steps after the
deciding failure still run when their inputs exist, marked as not reached, so an operator sees
every rule's result at once. Nothing is audited and nothing is written to the store.
"""

from __future__ import annotations

from typing import Any

from opp.admission import Admission
from opp.audit.writer import AuditWriter
from opp.auth.keys import KeyAuthenticator
from opp.auth.network import client_ip
from opp.auth.principal import Principal
from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.compile.plan import Plan, ToolPlan
from opp.engine.activation import build_activation
from opp.engine.authorizer import Authorizer, allowed_ips, check_network, check_tenant
from opp.engine.decision import decide, rule_results
from opp.engine.request import IncomingRequest
from opp.errors import OppError, ValidationFailed
from opp.explain.caller import resolve_caller
from opp.explain.limits import explain_admission, rate_limit_step
from opp.explain.model import CallSpec, ExplainError, Explanation, RuleLine, Step, Subject
from opp.oauth.authenticator import AgentAuthenticator
from opp.store.protocols import Store

__all__ = ["Explainer"]

_AGENT_PREFIX = "/api/agent/v1"
_ACTION_NOTE = (
    "An allowed action then enters the write lifecycle (draft, auto-execute gating, State Witness), "
    "which explain does not simulate."
)


def _failed(name: str, error: OppError, details: dict[str, Any] | None = None) -> Step:
    return Step(name=name, status="failed", summary=error.message, code=error.code, details=details or {})


def _skipped(name: str, why: str) -> Step:
    return Step(name=name, status="skipped", summary=why)


class Explainer:
    """Explains calls against one Plan and store; backends must be started by the caller."""

    def __init__(
        self,
        plan: Plan,
        store: Store,
        clock: Clock,
        ids: IdFactory | None = None,
        admission: Admission | None = None,
    ) -> None:
        """``admission`` holds the rate-limit counters to read (default: see ``explain_admission``)."""
        self.plan = plan
        self._store = store
        self._clock = clock
        audit = AuditWriter(store, enabled=False)
        self._auth = Authorizer(
            plan,
            AgentAuthenticator(KeyAuthenticator(store, clock), None, store, plan.oauth),
            audit,
            clock,
            ids or IdFactory(),
            admission or explain_admission(plan),
        )

    def tool(self, name: str) -> ToolPlan:
        """The tool called ``name`` (raises :class:`ExplainError` listing the known tools)."""
        tool = self.plan.tools_by_name.get(name)
        if tool is None:
            known = ", ".join(t.name for t in self.plan.tools)
            raise ExplainError(f"unknown tool {name!r}; tools in {self.plan.source}: {known}")
        return tool

    def request(self, tool: ToolPlan, call: CallSpec) -> IncomingRequest:
        """The request the call would arrive as (the tool's own route unless told otherwise)."""
        if tool.writes:
            method, path = "POST", f"{_AGENT_PREFIX}/actions"
        else:
            method, path = tool.http_method or "GET", f"{_AGENT_PREFIX}{tool.http_path or ''}"
        return IncomingRequest(
            request_id="explain",
            method=call.method or method,
            path=call.path or path,
            peer=call.ip,
            authorization=[],
            forwarded_for=[],
            user_agent="opp explain",
            received_at=self._clock.now(),
        )

    async def explain(self, subject: Subject, call: CallSpec) -> Explanation:
        """Every step of the pipeline for ``call`` by ``subject``, and the final decision."""
        tool = self.tool(call.tool)
        request = self.request(tool, call)
        steps, principal = await resolve_caller(self.plan, self._store, self._clock, subject)
        matched: list[str] = []
        if principal is None:
            steps += [_skipped(n, "No principal.") for n in ("network", "rate_limit", "scopes")]
            steps += [_skipped(n, "No principal.") for n in ("input", "tenant", "policy")]
        else:
            steps += await self._authorize(tool, request, principal, call, matched)
        return _conclude(tool, steps, matched)

    async def _authorize(
        self,
        tool: ToolPlan,
        request: IncomingRequest,
        principal: Principal,
        call: CallSpec,
        matched: list[str],
    ) -> list[Step]:
        ip = client_ip(request.peer, [], self.plan.trusted_proxies)
        steps = [self._network(principal, ip), rate_limit_step(self._auth.admission, principal, tool, ip)]
        steps.append(self._scopes(tool, principal))
        input_step, args = self._input(tool, call.args)
        steps.append(input_step)
        if args is None:
            steps += [_skipped("tenant", "Needs valid input."), _skipped("policy", "Needs valid input.")]
            return steps
        tenant_step, resource = await self._tenant(tool, request, principal, args)
        steps.append(tenant_step)
        activation = build_activation(self.plan, principal, request, ip, tool, args, resource)
        steps.append(self._policy(tool, activation, matched))
        return steps

    @staticmethod
    def _network(principal: Principal, ip: str | None) -> Step:
        details = {"clientIp": ip, "allowedIps": list(allowed_ips(principal))}
        try:
            check_network(principal, ip)
        except OppError as error:
            return _failed("network", error, details)
        summary = "No allowlist: every address." if not details["allowedIps"] else f"{ip} is allowed."
        return Step(name="network", status="passed", summary=summary, details=details)

    @staticmethod
    def _scopes(tool: ToolPlan, principal: Principal) -> Step:
        details = {"required": sorted(tool.required_scopes), "granted": sorted(principal.scopes)}
        try:
            Authorizer.check_scopes(tool, principal.scopes)
        except OppError as error:
            return _failed("scopes", error, {**details, **(error.details or {})})
        return Step(
            name="scopes", status="passed", summary="Every required scope is granted.", details=details
        )

    @staticmethod
    def _input(tool: ToolPlan, raw_args: dict[str, Any]) -> tuple[Step, dict[str, Any] | None]:
        code = ReasonCode.ACTION_INVALID if tool.writes else ReasonCode.VALIDATION
        try:
            args = Authorizer.validate(tool, raw_args, code)
        except ValidationFailed as failed:
            return _failed("input", failed, {"issues": failed.issues}), None
        step = Step(
            name="input", status="passed", summary="Input matches the tool's schema.", details={"args": args}
        )
        return step, args

    async def _tenant(
        self, tool: ToolPlan, request: IncomingRequest, principal: Principal, args: dict[str, Any]
    ) -> tuple[Step, dict[str, Any] | None]:
        spec = tool.resource
        if spec is None:
            return _skipped("tenant", f"No resource lookup (tenant_boundary: {tool.tenant_boundary})."), None
        details: dict[str, Any] = {
            "resource": spec.type,
            "id": spec.id_of(args),
            "tenant": principal.tenant,
        }
        context = self._auth.context(request, principal)
        try:
            found = await self._auth.lookup(tool, args, context)
        except OppError as error:
            return _failed("tenant", error, details), None
        details |= {"found": found is not None, "resourceTenant": (found or {}).get(spec.tenant_field)}
        try:
            resource = check_tenant(spec, found, principal)
        except OppError as error:
            return _failed("tenant", error, details), None
        summary = f"{spec.type} {details['id']} belongs to tenant {principal.tenant}."
        return Step(name="tenant", status="passed", summary=summary, details=details), resource

    @staticmethod
    def _policy(tool: ToolPlan, activation: dict[str, Any], matched: list[str]) -> Step:
        if not tool.uses_cel:
            return _skipped("policy", "The tool has no rules.")
        error: OppError | None = None
        try:
            decide(tool, activation, matched)
        except OppError as denial:
            error = denial
        rules = [
            RuleLine(
                id=rule.id,
                effect=rule.effect,
                result="error" if result is None else str(result).lower(),  # type: ignore[arg-type]
                expression=rule.program.source,
                message=rule.message,
                matched=rule.id in matched,
            )
            for rule, result in rule_results(tool, activation)
        ]
        details: dict[str, Any] = {"matched": list(matched)}
        if tool.writes and not tool.allow_rules:
            details["note"] = "An action needs a matching allow rule; it declares none."
        if error is not None:
            return Step(
                name="policy",
                status="failed",
                summary=error.message,
                code=error.code,
                details=details,
                rules=rules,
            )
        summary = (
            f"{len(rules)} rule(s); none denies." if rules else "No rules; reads are allowed by default."
        )
        return Step(name="policy", status="passed", summary=summary, details=details, rules=rules)


def _conclude(tool: ToolPlan, steps: list[Step], matched: list[str]) -> Explanation:
    decisive = next((step for step in steps if step.status == "failed"), None)
    if decisive is not None:
        decisive.decisive = True
        for step in steps[steps.index(decisive) + 1 :]:
            step.reached = False
    code = ReasonCode(decisive.code) if decisive and decisive.code else ReasonCode.SUCCESS
    policy_reached = any(step.name == "policy" and step.reached for step in steps)
    return Explanation(
        tool=tool.name,
        kind=tool.kind,
        allowed=decisive is None,
        code=code.value,
        status=code.status,
        message=decisive.summary if decisive else "Allowed.",
        steps=steps,
        matched_rules=matched if policy_reached else [],
        notes=[_ACTION_NOTE] if tool.writes and decisive is None else [],
    )
